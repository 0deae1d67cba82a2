// Package replicate is the assistant's Provider for language models on
// Replicate (a Llama 3 70B-class instruct model by default): a prediction is
// created on the model with streaming on, its output read from the
// prediction's SSE stream (output, error and done events), and its token
// counts and predict_time taken from the prediction's metrics. A call that
// ends early (cancelled, cut, aborted by the caller) cancels its prediction,
// so that it stops running and billing.
package replicate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	replicatego "github.com/replicate/replicate-go"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/inference/providerhttp"
	"github.com/flavormonk/flavormonk/app/tokens"
)

// Name is the provider's config name.
const Name = "replicate"

// DefaultBaseURL is Replicate's API.
const DefaultBaseURL = "https://api.replicate.com/v1"

// cancelTimeout bounds the cancel request sent after a call ended early.
const cancelTimeout = 5 * time.Second

// Llama 3 instruct chat markup.
const (
	beginOfText = "<|begin_of_text|>"
	eot         = "<|eot_id|>"
	// systemTemplate is prompt_template for multi-turn chats and
	// continuations: the turns are rendered into the prompt itself.
	systemTemplate = beginOfText + "<|start_header_id|>system<|end_header_id|>\n\n{system_prompt}" + eot + "{prompt}"
	// defaultTemplate is the model's own template, used to estimate the
	// input of single-turn prompts.
	defaultTemplate = beginOfText + "<|start_header_id|>system<|end_header_id|>\n\n{system_prompt}" + eot +
		"<|start_header_id|>user<|end_header_id|>\n\n{prompt}" + eot + "<|start_header_id|>assistant<|end_header_id|>\n\n"
)

var modelRef = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9._-]{0,98}[a-z0-9])?/[a-z0-9](?:[a-z0-9._-]{0,98}[a-z0-9])?$`)

// Provider streams answers from one Replicate model.
type Provider struct {
	model, owner, name, token string
	client                    *replicatego.Client
	hc                        *http.Client
}

var _ flavormonk.Provider = (*Provider)(nil)

// New returns a provider for model, an "owner/name" reference to an
// official model (e.g. "meta/meta-llama-3-70b-instruct"), at baseURL
// (DefaultBaseURL when empty) with the API token. hc carries the calls; it
// must have no overall Timeout (deadlines come from the context). nil: a
// client of http.DefaultTransport.
func New(baseURL, token, model string, hc *http.Client) (*Provider, error) {
	if !modelRef.MatchString(model) {
		return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_REPLICATE_MODEL",
			"Replicate model %q is not an owner/name reference such as meta/meta-llama-3-70b-instruct (lower-case letters, digits, '-', '_', '.'; no version)", providerhttp.Truncate(model, 80))
	}
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_REPLICATE_BASE_URL", "Replicate base URL is not an http(s) URL")
	}
	if token == "" {
		return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "FLAVORMONK_REPLICATE_API_TOKEN", "Replicate needs an API token")
	}
	wrapped := providerhttp.Client(hc, true)
	client, err := replicatego.NewClient(
		replicatego.WithToken(token),
		replicatego.WithBaseURL(strings.TrimRight(baseURL, "/")),
		replicatego.WithHTTPClient(wrapped),
		replicatego.WithUserAgent("flavormonk"),
		// The router retries; replicate-go's retries would sleep through
		// Retry-After without regard for the context.
		replicatego.WithRetryPolicy(0, noBackoff{}),
	)
	if err != nil {
		return nil, fmt.Errorf("replicate: %w", err)
	}
	owner, name, _ := strings.Cut(model, "/")
	return &Provider{model: model, owner: owner, name: name, token: token, client: client, hc: wrapped}, nil
}

func (p *Provider) Name() string  { return Name }
func (p *Provider) Model() string { return p.model }

// Input returns the prediction input for req and the prompt as the model
// reads it (for estimates). A single question goes as prompt and
// system_prompt in the model's own template; a conversation or a
// continuation is rendered in Llama 3 chat markup, with the partial answer
// prefilled after the assistant header so that the model goes on from it.
func Input(req flavormonk.ChatRequest) (replicatego.PredictionInput, string) {
	var system []string
	var turns []flavormonk.Message
	for _, m := range req.Messages {
		if m.Role == flavormonk.RoleSystem {
			system = append(system, clean(m.Content))
		} else {
			turns = append(turns, m)
		}
	}
	in := replicatego.PredictionInput{
		"system_prompt": strings.Join(system, "\n\n"),
		"temperature":   req.Temperature,
	}
	if req.MaxTokens > 0 {
		in["max_tokens"] = req.MaxTokens
	}
	tmpl := defaultTemplate
	if len(turns) == 1 && turns[0].Role == flavormonk.RoleUser && req.Continue == "" {
		in["prompt"] = clean(turns[0].Content)
	} else {
		var b strings.Builder
		for _, m := range turns {
			role := flavormonk.RoleUser
			if m.Role == flavormonk.RoleAssistant {
				role = flavormonk.RoleAssistant
			}
			b.WriteString("<|start_header_id|>" + role + "<|end_header_id|>\n\n")
			b.WriteString(clean(m.Content))
			b.WriteString(eot)
		}
		b.WriteString("<|start_header_id|>assistant<|end_header_id|>\n\n")
		b.WriteString(clean(req.Continue))
		in["prompt"] = b.String()
		in["prompt_template"] = systemTemplate
		tmpl = systemTemplate
	}
	rendered := strings.NewReplacer("{system_prompt}", in["system_prompt"].(string), "{prompt}", in["prompt"].(string)).Replace(tmpl)
	return in, rendered
}

// clean keeps text from forging chat markup: "<|" starts every Llama 3
// special token.
func clean(s string) string { return strings.ReplaceAll(s, "<|", "< |") }

// Stream implements flavormonk.Provider.
func (p *Provider) Stream(ctx context.Context, req flavormonk.ChatRequest, emit func(string) error) (flavormonk.Usage, error) {
	input, rendered := Input(req)
	capt := &providerhttp.Capture{}
	pred, err := p.client.CreatePredictionWithModel(providerhttp.WithCapture(ctx, capt), p.owner, p.name, input, nil, true)
	if err != nil {
		var u flavormonk.Usage
		if ctx.Err() != nil {
			u = p.estimate(rendered, "", 0)
		}
		return u, p.fail(ctx, capt, err)
	}
	call := &call{p: p, ctx: ctx, id: pred.ID, rendered: rendered}
	streamURL := pred.URLs["stream"]
	if streamURL == "" {
		return call.abandon(&flavormonk.ProviderError{Provider: Name, Err: errors.New("the model does not stream its output")})
	}
	sreq, err := http.NewRequestWithContext(providerhttp.WithCapture(ctx, capt), http.MethodGet, streamURL, nil)
	if err != nil {
		return call.abandon(&flavormonk.ProviderError{Provider: Name, Err: errors.New("bad stream URL")})
	}
	sreq.Header.Set("Accept", "text/event-stream")
	sreq.Header.Set("Cache-Control", "no-store")
	resp, err := p.hc.Do(sreq)
	if err != nil {
		return call.abandon(p.fail(ctx, capt, err))
	}
	defer resp.Body.Close()
	call.body = resp.Body
	if resp.StatusCode != http.StatusOK {
		return call.abandon(&flavormonk.ProviderError{Provider: Name, Status: resp.StatusCode, Retryable: providerhttp.Retryable(resp.StatusCode),
			RetryAfter: providerhttp.ParseRetryAfter(capt.RetryAfter, time.Now()), Err: errors.New("stream refused")})
	}
	dec := newSSEReader(resp.Body)
	for {
		ev, err := dec.Next()
		if err != nil {
			if ctx.Err() != nil {
				return call.abandon(p.fail(ctx, capt, err))
			}
			msg := "stream broken: " + err.Error()
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				msg = "stream ended before the prediction was done"
			} else if errors.Is(err, errInvalidUTF8) || errors.Is(err, errEventTooLarge) {
				msg = "malformed stream event: " + err.Error()
			}
			return call.abandon(&flavormonk.ProviderError{Provider: Name, Retryable: true, Err: errors.New(providerhttp.Redact(msg, p.token))})
		}
		switch ev.Type {
		case "output":
			call.out.WriteString(ev.Data)
			if err := emit(ev.Data); err != nil {
				u, _ := call.abandon(nil)
				return u, err
			}
			if ctx.Err() != nil {
				return call.abandon(p.fail(ctx, capt, ctx.Err()))
			}
		case "error":
			var e struct {
				Detail string `json:"detail"`
			}
			detail := ev.Data
			if json.Unmarshal([]byte(ev.Data), &e) == nil && e.Detail != "" {
				detail = e.Detail
			}
			perr := &flavormonk.ProviderError{Provider: Name, Retryable: true,
				Err: errors.New(providerhttp.Redact("prediction failed: "+providerhttp.Truncate(detail, 300), p.token))}
			return call.finish(perr)
		case "done":
			var d struct {
				Reason string `json:"reason"`
			}
			_ = json.Unmarshal([]byte(ev.Data), &d)
			switch d.Reason {
			case "":
				return call.finish(nil)
			case "canceled":
				return call.finish(&flavormonk.ProviderError{Provider: Name, Retryable: true, Err: errors.New("prediction was canceled")})
			default:
				return call.finish(&flavormonk.ProviderError{Provider: Name, Retryable: true, Err: errors.New("prediction ended: " + providerhttp.Truncate(d.Reason, 80))})
			}
		}
		// logs, keep-alives and unknown events carry no answer text.
	}
}

// call is one prediction being streamed.
type call struct {
	p        *Provider
	ctx      context.Context
	id       string
	rendered string
	out      strings.Builder
	body     io.Closer // the stream, closed first when abandoning
}

// finish reads the finished prediction's metrics for the usage, and returns
// it with err.
func (c *call) finish(err error) (flavormonk.Usage, error) {
	// The answer is complete: its metering outlives a context that ends now.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), cancelTimeout)
	defer cancel()
	pred, gerr := c.p.client.GetPrediction(ctx, c.id)
	if gerr != nil {
		return c.p.estimate(c.rendered, c.out.String(), 0), err
	}
	return c.p.usage(pred, c.rendered, c.out.String()), err
}

// abandon cancels the prediction of a call that ends early, so that it
// stops running and billing, and returns its usage (estimated) with err.
func (c *call) abandon(err error) (flavormonk.Usage, error) {
	if c.body != nil {
		_ = c.body.Close()
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.ctx), cancelTimeout)
	defer cancel()
	pred, cerr := c.p.client.CancelPrediction(ctx, c.id)
	if cerr != nil {
		return c.p.estimate(c.rendered, c.out.String(), 0), err
	}
	// A prediction that had already succeeded is billed in full, and its
	// metrics say so exactly.
	u := c.p.usage(pred, c.rendered, c.out.String())
	if pred.Status != replicatego.Succeeded {
		// Metrics of a cancelled prediction count what it did, not what we
		// received; meter what we received.
		u.OutputTokens = tokens.Count(c.p.model, c.out.String())
		u.Estimated = true
	}
	return u, err
}

func (p *Provider) usage(pred *replicatego.Prediction, rendered, out string) flavormonk.Usage {
	var secs float64
	m := pred.Metrics
	if m != nil && m.PredictTime != nil && *m.PredictTime > 0 && !math.IsInf(*m.PredictTime, 0) {
		secs = *m.PredictTime
	}
	if m == nil || m.InputTokenCount == nil || m.OutputTokenCount == nil {
		return p.estimate(rendered, out, secs)
	}
	return flavormonk.Usage{InputTokens: *m.InputTokenCount, OutputTokens: *m.OutputTokenCount, Seconds: secs}
}

func (p *Provider) estimate(rendered, out string, secs float64) flavormonk.Usage {
	return flavormonk.Usage{
		InputTokens:  tokens.Count(p.model, rendered),
		OutputTokens: tokens.Count(p.model, out),
		Seconds:      secs,
		Estimated:    true,
	}
}

// fail maps an error of replicate-go or the transport to *ProviderError,
// with the token scrubbed from its text.
func (p *Provider) fail(ctx context.Context, capt *providerhttp.Capture, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return &flavormonk.ProviderError{Provider: Name, Retryable: errors.Is(cerr, context.DeadlineExceeded), Err: cerr}
	}
	pe := &flavormonk.ProviderError{Provider: Name}
	var apiErr *replicatego.APIError
	var msg string
	if errors.As(err, &apiErr) {
		pe.Status = apiErr.Status
		msg = strings.TrimSpace(apiErr.Title + ": " + apiErr.Detail)
	} else {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		msg = err.Error()
	}
	if pe.Status != 0 && pe.Status == capt.Status {
		pe.RetryAfter = providerhttp.ParseRetryAfter(capt.RetryAfter, time.Now())
	}
	pe.Retryable = providerhttp.Retryable(pe.Status)
	pe.Err = errors.New(providerhttp.Redact(providerhttp.Truncate(msg, 300), p.token))
	return pe
}

type noBackoff struct{}

func (noBackoff) NextDelay(int) time.Duration { return 0 }
