package imagetest

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

const (
	// mainPkg is the package scripts/image.sh builds, relative to app/.
	mainPkg = "./cmd/flavormonk"
	// entrypoint is where ko puts that package's binary in the image.
	entrypoint = "/ko-app/flavormonk"
	caBundle   = "/etc/ssl/certs/ca-certificates.crt"
	nonroot    = "65532"
)

func TestImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a container image with ko; skipped with -short")
	}
	root := repoRoot(t)
	script := filepath.Join(root, "scripts", "image.sh")

	ctx := context.Background()
	if dl, ok := t.Deadline(); ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, dl.Add(-30*time.Second))
		defer cancel()
	}

	// ko comes from the Go module proxy; without it the test cannot run.
	start := time.Now()
	if out, err := runScript(ctx, t, script, os.Environ(), "--install-only"); err != nil {
		msg := fmt.Sprintf("cannot install ko (scripts/image.sh --install-only): %v\n%s", err, out)
		if os.Getenv("FLAVORMONK_TEST_REQUIRE_SERVICES") == "1" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	t.Logf("ko ready in %v", time.Since(start).Round(time.Millisecond))

	if _, err := os.Stat(caBundle); err != nil {
		t.Fatalf("the base image needs this machine's CA bundle: %v", err)
	}

	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://") // 127.0.0.1:port: plain HTTP for ko and go-containerregistry

	baseRef := host + "/base:latest"
	pushBase(t, baseRef)

	repo := host + "/flavormonk"
	version := "test-" + randomHex(t, 6)
	env := append(withoutEnv(os.Environ(),
		"KO_DOCKER_REPO", "KO_DEFAULTBASEIMAGE", "KO_CONFIG_PATH", "KO_DEFAULTPLATFORMS",
		"VERSION", "PLATFORMS", "IMAGE_MAIN", "SBOM", "KO"),
		"KO_DOCKER_REPO="+repo,
		"KO_DEFAULTBASEIMAGE="+baseRef,
		"VERSION="+version,
		"IMAGE_MAIN="+mainPkg,
	)
	start = time.Now()
	out, err := runScript(ctx, t, script, env)
	if err != nil {
		t.Fatalf("scripts/image.sh: %v\n%s", err, out)
	}
	t.Logf("scripts/image.sh built and pushed in %v", time.Since(start).Round(time.Millisecond))

	// The script's last line is the pushed reference: repo:version@sha256:….
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	printed := strings.TrimSpace(lines[len(lines)-1])
	wantPrefix := repo + ":" + version + "@sha256:"
	if !strings.HasPrefix(printed, wantPrefix) {
		t.Fatalf("last line of scripts/image.sh = %q, want %s<digest>\n%s", printed, wantPrefix, out)
	}
	printedDigest := printed[strings.LastIndex(printed, "@")+1:]

	tag, err := name.NewTag(repo + ":" + version)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(tag, remote.WithContext(ctx))
	if err != nil {
		t.Fatalf("tag %s is not in the registry: %v", tag, err)
	}
	if got := desc.Digest.String(); got != printedDigest {
		t.Errorf("tag %s has digest %s, the script printed %s", tag, got, printedDigest)
	}
	if latest, err := remote.Head(tag.Context().Tag("latest"), remote.WithContext(ctx)); err != nil {
		t.Errorf("tag latest: %v", err)
	} else if latest.Digest != desc.Digest {
		t.Errorf("tag latest has digest %s, %s has %s", latest.Digest, version, desc.Digest)
	}

	img, err := desc.Image()
	if err != nil {
		t.Fatalf("%s is not an image: %v", tag, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cf.OS != "linux" || cf.Architecture != "amd64" {
		t.Errorf("image platform = %s/%s, want linux/amd64", cf.OS, cf.Architecture)
	}
	if !slices.Equal(cf.Config.Entrypoint, []string{entrypoint}) {
		t.Errorf("entrypoint = %q, want [%s]", cf.Config.Entrypoint, entrypoint)
	}
	if cf.Config.User != nonroot {
		t.Errorf("user = %q, want %s (nonroot)", cf.Config.User, nonroot)
	}

	files := layerFiles(t, img, entrypoint, caBundle)
	bin, ok := files[entrypoint]
	if !ok {
		t.Fatalf("no layer holds %s", entrypoint)
	}
	if _, ok := files[caBundle]; !ok {
		t.Errorf("no layer holds %s: the image is not on the base %s", caBundle, baseRef)
	}

	// Run the binary from the image: it must print the injected version.
	exe := filepath.Join(t.TempDir(), "flavormonk")
	if err := os.WriteFile(exe, bin, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, exe, "version")
	cmd.Env = []string{"HOME=" + t.TempDir()}
	got, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s version: %v\n%s", entrypoint, err, got)
	}
	// It prints "flavormonk VERSION".
	if f := strings.Fields(string(got)); len(f) == 0 || f[len(f)-1] != version {
		t.Errorf("%s version printed %q, want it to end in %q", entrypoint, strings.TrimSpace(string(got)), version)
	}
}

// repoRoot is the folder holding scripts/image.sh, found upwards from here.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "scripts", "image.sh")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("scripts/image.sh not found above the test's folder")
		}
		dir = parent
	}
}

// runScript runs scripts/image.sh and returns its stdout; its stderr (ko's
// log) goes to the test log.
func runScript(ctx context.Context, t *testing.T, script string, env []string, args ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, "bash", append([]string{script}, args...)...)
	cmd.Env = env
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if stderr.Len() > 0 {
		t.Logf("%s stderr:\n%s", strings.Join(append([]string{"scripts/image.sh"}, args...), " "), stderr.Bytes())
	}
	return stdout.Bytes(), err
}

// pushBase pushes a minimal base image to ref: this machine's CA bundle and
// a nonroot user, for linux/amd64 (what ko's default base gives on ops machines).
func pushBase(t *testing.T, ref string) {
	t.Helper()
	ca, err := os.ReadFile(caBundle)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, dir := range []string{"etc/", "etc/ssl/", "etc/ssl/certs/"} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir, Mode: 0o755}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(caBundle, "/"), Mode: 0o644, Size: int64(len(ca))}); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write(ca); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.User = nonroot
	cf.Config.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"SSL_CERT_FILE=" + caBundle,
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img); err != nil {
		t.Fatalf("push base %s: %v", ref, err)
	}
}

// layerFiles reads the image's layers, top layer last, and returns the
// contents of the wanted paths (absolute, as in the image's file system).
func layerFiles(t *testing.T, img v1.Image, want ...string) map[string][]byte {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		tr := tar.NewReader(rc)
		for {
			hdr, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rc.Close()
				t.Fatal(err)
			}
			p := path.Clean("/" + hdr.Name)
			if hdr.Typeflag != tar.TypeReg || !slices.Contains(want, p) {
				continue
			}
			b, err := io.ReadAll(tr)
			if err != nil {
				rc.Close()
				t.Fatal(err)
			}
			files[p] = b
		}
		rc.Close()
	}
	return files
}

func randomHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// withoutEnv returns env without the named variables.
func withoutEnv(env []string, names ...string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(names, k) {
			out = append(out, kv)
		}
	}
	return out
}
