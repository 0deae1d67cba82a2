package replicate_test

import (
	"strings"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/inference/providertest"
	"github.com/flavormonk/flavormonk/app/inference/replicatetest"
	"github.com/flavormonk/flavormonk/app/replicate"
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
