package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/assistant"
	"github.com/flavormonk/flavormonk/app/auth"
	"github.com/flavormonk/flavormonk/app/internal/jsonbody"
)

// heartbeatEvery keeps idle answer streams alive through load balancers
// that drop connections silent for 60 s.
const heartbeatEvery = 15 * time.Second

// routeAssistant adds the assistant's page, stream and API.
func (s *Server) routeAssistant() error {
	t, err := s.pageTemplate("ask")
	if err != nil {
		return err
	}
	s.pages.byName["ask"] = t
	s.Echo.GET("/ask", s.askPage, s.visitor, noStore)
	s.Echo.POST("/ask/stream", s.askStream, s.visitor, noStore)
	s.Echo.POST("/api/v1/ask", s.apiAsk, noStore)
	return nil
}

func (s *Server) pageTemplate(name string) (*template.Template, error) {
	return template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
}

// askBody is the request of POST /api/v1/ask.
type askBody struct {
	Question     string `json:"question"`
	Conversation string `json:"conversation,omitempty"`
}

// maxAskBody bounds the JSON body: a question is at most 2,000 bytes.
const maxAskBody = 8 << 10

func parseAsk(c echo.Context) (askBody, error) {
	var b askBody
	req := c.Request()
	if ct := req.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return b, flavormonk.Errorf(flavormonk.EINVALID, "send the question as JSON with Content-Type: application/json, e.g. {\"question\": \"…\"}")
	}
	raw, err := io.ReadAll(io.LimitReader(req.Body, maxAskBody+1))
	if err != nil {
		return b, flavormonk.Errorf(flavormonk.EINVALID, "the request body could not be read")
	}
	if len(raw) > maxAskBody {
		return b, flavormonk.Errorf(flavormonk.ETOOLARGE, "the request body is over %d bytes; a question is at most %d", maxAskBody, assistant.MaxQuestionBytes)
	}
	if !utf8.Valid(raw) {
		return b, flavormonk.FieldErrorf(flavormonk.EINVALID, "question", "is not valid UTF-8 text")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return b, flavormonk.FieldErrorf(flavormonk.EINVALID, te.Field, "must be a string")
		}
		return b, flavormonk.Errorf(flavormonk.EINVALID, "the body is not the expected JSON object {\"question\": \"…\", \"conversation\": \"…\"}: %s", jsonbody.Brief(err))
	}
	if jsonbody.Trailing(dec) {
		return b, flavormonk.Errorf(flavormonk.EINVALID, "the body has data after the JSON object")
	}
	return b, nil
}

// who identifies the caller for quotas and history: the user, else the
// visitor session, else (API callers without cookies) the client address.
func who(c echo.Context) flavormonk.Caller {
	if u := currentUser(c); u != nil {
		return flavormonk.Caller{UserID: u.ID, Plan: u.Plan}
	}
	if v, ok := c.Get("visitor").(*flavormonk.Visitor); ok && v != nil {
		return flavormonk.Caller{Visitor: v.ID, Client: c.RealIP()}
	}
	return flavormonk.Caller{Visitor: "ip-" + c.RealIP(), Client: c.RealIP()}
}

func (s *Server) askPage(c echo.Context) error {
	return s.render(c, http.StatusOK, "ask", s.askData(c))
}

func (s *Server) askData(c echo.Context) map[string]any {
	return map[string]any{"Title": "Ask the Monk", "CSRF": s.csrfFor(c), "User": currentUser(c)}
}

// csrfFor is the page's CSRF token when accounts are on.
func (s *Server) csrfFor(c echo.Context) string {
	if s.acc == nil {
		return ""
	}
	return s.csrfToken(c)
}

// askStream serves the chat page: the session cookie identifies the user,
// so the request must come from this site (Origin) with the page's CSRF
// token in X-CSRF-Token.
func (s *Server) askStream(c echo.Context) error {
	req := c.Request()
	o := req.Header.Get("Origin")
	if o == "" {
		return flavormonk.Errorf(flavormonk.EFORBIDDEN, "the chat stream only answers the chat page (no Origin header)")
	}
	if u, err := url.Parse(o); err != nil || !strings.EqualFold(u.Host, req.Host) {
		return flavormonk.Errorf(flavormonk.EFORBIDDEN, "cross-origin requests to the chat stream are refused")
	}
	if s.acc != nil && !auth.CheckCSRF(s.csrfSecret(c, false), req.Header.Get("X-CSRF-Token")) {
		return flavormonk.Errorf(flavormonk.EFORBIDDEN, "the page expired; reload it and ask again")
	}
	return s.ask(c)
}

func (s *Server) apiAsk(c echo.Context) error {
	if t, _ := c.Get("token").(*flavormonk.APIToken); t != nil && !slices.Contains(t.Scopes, flavormonk.ScopeAsk) {
		return flavormonk.Errorf(flavormonk.EFORBIDDEN, "the API token lacks the %q scope", flavormonk.ScopeAsk)
	}
	if ck, err := c.Cookie(visitorCookie); err == nil && len(ck.Value) <= 128 && currentUser(c) == nil {
		if v, err := s.store.Visitor(c.Request().Context(), ck.Value); err == nil {
			c.Set("visitor", v)
		}
	}
	return s.ask(c)
}

// ask validates, grounds and reserves before the stream starts (so bad
// input and quotas are plain HTTP errors), then streams Server-Sent Events:
// token, citation, done, error, and a comment heartbeat.
func (s *Server) ask(c echo.Context) error {
	body, err := parseAsk(c)
	if err != nil {
		return err
	}
	// Shutdown waits for this stream to end and settle (EndStreams).
	sctx, left, err := s.streams.join(c.Request().Context())
	if err != nil {
		return err
	}
	defer left()
	ctx, cancel := context.WithCancel(sctx)
	defer cancel()
	call, err := s.assistant.Prepare(ctx, assistant.Request{Question: body.Question, Conversation: body.Conversation, Who: who(c)})
	if err != nil {
		if shuttingDown(sctx) {
			return errShuttingDown
		}
		return err
	}
	// Whatever happens below, the reservation is settled.
	defer call.Release(ctx)
	w := c.Response()
	h := w.Header()
	h.Set(echo.HeaderContentType, "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx-style proxies: do not buffer
	h.Set("X-Conversation-Id", call.Conversation())
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w.Writer)

	var mu sync.Mutex
	var werr error // under mu
	write := func(b []byte) error {
		mu.Lock()
		defer mu.Unlock()
		if werr != nil {
			return werr
		}
		if _, err := w.Write(b); err != nil {
			werr = err
		} else if err := rc.Flush(); err != nil {
			werr = err
		}
		if werr != nil {
			cancel() // the client is gone: stop the provider call
		}
		return werr
	}
	if err := write([]byte(": stream open\n\n")); err != nil {
		return nil
	}
	stop := make(chan struct{})
	beats := make(chan struct{})
	go func() {
		defer close(beats)
		t := time.NewTicker(s.heartbeat)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if write([]byte(": heartbeat\n\n")) != nil {
					return
				}
			case <-stop:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	// The heartbeat must be done writing before the handler returns and
	// net/http reuses the connection's buffers.
	defer func() { close(stop); <-beats }()
	var buf []byte
	ended := false // a done or error event was sent
	err = call.Run(ctx, func(ev assistant.Event) error {
		ended = ev.Kind == assistant.EventDone || ev.Kind == assistant.EventError
		buf = appendEvent(buf[:0], ev)
		return write(buf)
	})
	mu.Lock()
	gone := werr != nil
	mu.Unlock()
	if !ended && !gone && shuttingDown(sctx) {
		// Run has settled what was consumed; the client learns why the
		// answer stops and when to ask again.
		buf = fmt.Appendf(buf[:0], "retry: %d\n", streamRetryMillis)
		_ = write(appendEvent(buf, assistant.Event{Kind: assistant.EventError, Err: errShuttingDown}))
		return nil
	}
	if err != nil && !gone && !errors.Is(err, context.Canceled) {
		s.log.WarnContext(ctx, "answer stream ended early", "err", err)
	}
	return nil
}

// appendEvent renders one SSE event. JSON never contains a raw newline, so
// each event is one data line.
func appendEvent(b []byte, ev assistant.Event) []byte {
	var v any
	switch ev.Kind {
	case assistant.EventToken:
		v = struct {
			Text string `json:"text"`
		}{ev.Text}
	case assistant.EventCitation:
		v = ev.Citation
	case assistant.EventDone:
		v = ev.Done
	case assistant.EventError:
		v = struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		}{ev.Err.Code, ev.Err.Error()}
	}
	data, _ := json.Marshal(v)
	b = append(b, "event: "...)
	b = append(b, ev.Kind...)
	b = append(b, "\ndata: "...)
	b = append(b, data...)
	return append(b, "\n\n"...)
}
