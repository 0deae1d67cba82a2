package replicate_test

import (
	"context"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/inference/providertest"
	"github.com/flavormonk/flavormonk/app/inference/replicate"
	"github.com/flavormonk/flavormonk/app/inference/replicatetest"
	"github.com/flavormonk/flavormonk/app/inference/script"
)

const (
	testToken = "r8_test0123456789FLAVORMONKabcdef"
	testModel = "meta/meta-llama-3-70b-instruct"
)

func newProvider(t *testing.T, token string) (providertest.Server, flavormonk.Provider) {
	srv := replicatetest.New(replicatetest.Options{APIKey: testToken, Models: []string{testModel}})
	p, err := replicate.New(srv.URL(), token, testModel, srv.Client())
	if err != nil {
		srv.Close()
		t.Fatal(err)
	}
	return srv, p
}

func TestConformance(t *testing.T) {
	providertest.Run(t, providertest.Harness{
		New:       func(t *testing.T) (providertest.Server, flavormonk.Provider) { return newProvider(t, testToken) },
		NewBadKey: newProvider,
		Key:       testToken,
		Cancels:   true,
		CheckContinue: func(t *testing.T, s providertest.Server, partial string) {
			req, _ := s.(*replicatetest.Server).LastRequest()
			prompt := req.Str("prompt")
			if want := "<|start_header_id|>assistant<|end_header_id|>\n\n" + partial; !strings.HasSuffix(prompt, want) {
				t.Errorf("prompt %q does not end with the prefilled partial answer %q", prompt, want)
			}
			if tmpl := req.Str("prompt_template"); !strings.HasSuffix(tmpl, "{prompt}") || strings.Contains(tmpl, "<|start_header_id|>user") {
				t.Errorf("prompt_template %q: want the turns rendered in the prompt", tmpl)
			}
			if req.Str("system_prompt") != providertest.Request().Messages[0].Content {
				t.Errorf("system_prompt %q", req.Str("system_prompt"))
			}
		},
	})
}

type recordingTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	auth map[string]string // path → Authorization
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.auth[r.URL.Path] = r.Header.Get("Authorization")
	rt.mu.Unlock()
	return rt.base.RoundTrip(r)
}

func TestSecondsAndTokenOnlyToTheAPI(t *testing.T) {
	srv := replicatetest.New(replicatetest.Options{Answer: "Rest the dough.", Timing: script.Timing{Interval: time.Millisecond}})
	defer srv.Close()
	rt := &recordingTransport{base: srv.Client().Transport, auth: map[string]string{}}
	p, err := replicate.New(srv.URL(), testToken, testModel, &http.Client{Transport: rt})
	if err != nil {
		t.Fatal(err)
	}
	u, err := p.Stream(context.Background(), providertest.Request(), func(string) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if st := srv.Stats(); u.Seconds <= 0 || math.Abs(u.Seconds-st.Seconds) > 1e-5 || u.Estimated {
		t.Errorf("usage %+v, server billed %v s", u, st.Seconds)
	}
	streamed := false
	for path, auth := range rt.auth {
		if strings.HasPrefix(path, "/stream/") {
			streamed = true
			if auth != "" {
				t.Errorf("the token was sent to the stream URL %s", path)
			}
		} else if auth != "Bearer "+testToken {
			t.Errorf("%s sent Authorization %q", path, auth)
		}
	}
	if !streamed || len(rt.auth) != 3 {
		t.Errorf("requests %v: want create, stream and the metrics read", rt.auth)
	}
}
