// Package assistant is "Ask the Monk": it grounds a question in the recipe
// collection (retrieval with the tier's search), builds a prompt with the
// recipes fenced as data, streams the answer through the provider router,
// reports citations as the answer makes them, caches answers, keeps a
// bounded conversation history, and meters every call.
package assistant

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/inference/router"
)

// Event kinds, as the SSE stream names them.
const (
	EventToken    = "token"
	EventCitation = "citation"
	EventDone     = "done"
	EventError    = "error"
)

// Event is one item of an answer's stream.
type Event struct {
	Kind     string
	Text     string            // token
	Citation *Citation         // citation
	Done     *Done             // done
	Err      *flavormonk.Error // error
}

// Citation is a recipe the answer cites.
type Citation struct {
	N    int    `json:"n"`
	ID   string `json:"id"`
	Name string `json:"name"`
	URL  string `json:"url"`
}

// Done closes a successful answer.
type Done struct {
	// Provider and Model finished the answer ("cache" when it came from
	// the answer cache, "none" when nothing matched and no model was asked).
	Provider string `json:"provider"`
	Model    string `json:"model"`
	// Providers lists every provider whose text is in the answer, in order
	// (more than one when a stream broke and another continued it).
	Providers    []string `json:"providers,omitempty"`
	TokensIn     int      `json:"tokens_in"`
	TokensOut    int      `json:"tokens_out"`
	CostUSD      float64  `json:"cost_usd"`
	Estimated    bool     `json:"estimated"`
	CacheHit     bool     `json:"cache_hit"`
	Conversation string   `json:"conversation"`
}

// owner names who a conversation belongs to in cache keys: never the
// visitor's cookie itself (anyone who can list keys could use it).
func owner(w flavormonk.Caller) string {
	if w.UserID != 0 {
		return "u" + strconv.FormatInt(w.UserID, 10)
	}
	sum := sha256.Sum256([]byte(w.Visitor))
	return "v" + hex.EncodeToString(sum[:12])
}

// Retriever finds the recipes a question is about.
type Retriever interface {
	// Retrieve returns up to k recipes, best first, and none when no
	// recipe matches the text lexically (vectors alone never count as a
	// match: they always find something).
	Retrieve(ctx context.Context, text string, k int) ([]*flavormonk.Recipe, error)
	// Recipe loads one recipe (for follow-ups about earlier sources).
	Recipe(ctx context.Context, id string) (*flavormonk.Recipe, error)
}

// Options tune the assistant. Zero values take the defaults in brackets.
type Options struct {
	TopK int // recipes given to the model [4]
	// Retries is the router's retries per provider: each attempt is
	// charged for its input, so the worst case counts them all.
	Retries     int
	MaxTokens   int     // output cap per answer [700]
	Temperature float64 // [0.3]
	// Timeout bounds one answer, all providers together [90s].
	Timeout time.Duration
	// HistoryTurns is how many earlier question/answer pairs a
	// conversation keeps [6]; HistoryTTL how long it is kept idle [24h].
	HistoryTurns int
	HistoryTTL   time.Duration
	// CacheTTL keeps exact-match answers; 0 turns the answer cache off.
	CacheTTL time.Duration
	// SemanticThreshold turns on the semantic answer cache: a question
	// whose embedding (by Embedder) is at least this similar to an earlier
	// one with the same retrieved recipes gets its answer; 0 turns it off.
	SemanticThreshold float64
	Embedder          flavormonk.Embedder
	// RecipeURL makes a citation's link [/recipes/ID].
	RecipeURL func(id string) string
	Log       *slog.Logger
}

func (o *Options) defaults() {
	if o.TopK == 0 {
		o.TopK = 4
	}
	if o.MaxTokens == 0 {
		o.MaxTokens = 700
	}
	if o.Temperature == 0 {
		o.Temperature = 0.3
	}
	if o.Timeout == 0 {
		o.Timeout = 90 * time.Second
	}
	if o.HistoryTurns == 0 {
		o.HistoryTurns = 6
	}
	if o.HistoryTTL == 0 {
		o.HistoryTTL = 24 * time.Hour
	}
	if o.RecipeURL == nil {
		o.RecipeURL = func(id string) string { return "/recipes/" + id }
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
}

// Assistant answers questions. It is safe for concurrent use.
type Assistant struct {
	opts     Options
	retrieve Retriever
	router   *router.Router
	cache    flavormonk.Cache // nil: no answer cache and no history
	meter    flavormonk.Meter // nil: nothing is priced or limited
	metrics  *Metrics
	semantic *semanticCache // nil: off
}

// New returns an assistant. cache and meter may be nil.
func New(opts Options, r Retriever, rt *router.Router, cache flavormonk.Cache, meter flavormonk.Meter, m *Metrics) *Assistant {
	opts.defaults()
	a := &Assistant{opts: opts, retrieve: r, router: rt, cache: cache, meter: meter, metrics: m}
	if cache != nil && opts.CacheTTL > 0 {
		a.semantic = newSemanticCache(opts.Embedder, opts.SemanticThreshold)
	}
	return a
}

// ProviderStates reports each provider's breaker: closed, open or half-open.
func (a *Assistant) ProviderStates() map[string]string { return a.router.State() }

// Degraded reports whether a provider is cooling down after failures (its
// breaker is not closed): the others, and the offline answer, still serve.
func (a *Assistant) Degraded() bool {
	for _, st := range a.ProviderStates() {
		if st != "closed" {
			return true
		}
	}
	return false
}

// Turn is one question and answer of a conversation.
type Turn struct {
	Question string   `json:"q"`
	Answer   string   `json:"a"`
	Sources  []string `json:"s,omitempty"`
}

// Request is one question.
type Request struct {
	Question     string
	Conversation string // "" starts a new one
	Who          flavormonk.Caller
}

var conversationRe = regexp.MustCompile(`^[A-Za-z0-9_-]{8,64}$`)

// Call is a prepared answer: validated, grounded and paid for, ready to
// stream. Prepare's errors (bad input, quota) happen before any byte of
// the stream, so they can be plain HTTP errors.
type Call struct {
	a            *Assistant
	req          Request
	conversation string
	history      []Turn
	sources      []flavormonk.Source
	messages     []flavormonk.Message
	cacheKey     string
	cached       *cachedAnswer
	semantic     bool      // cached came from a similar question
	qvec         []float32 // the question's embedding, for the semantic cache
	sourcesSig   string
	reservation  flavormonk.Reservation
	settled      bool
	started      time.Time
}

type cachedAnswer struct {
	Text     string `json:"text"`
	Provider string `json:"provider"`
	Model    string `json:"model"`
}

// Prepare validates the request, loads the conversation, retrieves the
// recipes, looks the answer up in the cache and reserves the worst-case
// cost.
func (a *Assistant) Prepare(ctx context.Context, req Request) (*Call, error) {
	q, err := CheckQuestion(req.Question)
	if err != nil {
		return nil, err
	}
	req.Question = q
	if req.Who.UserID != 0 {
		req.Who.Visitor = "" // a logged-in visitor is metered as the user
	}
	if req.Conversation != "" && !conversationRe.MatchString(req.Conversation) {
		return nil, flavormonk.FieldErrorf(flavormonk.EINVALID, "conversation", "must be the id a previous answer returned (8-64 letters, digits, - or _)")
	}
	c := &Call{a: a, req: req, conversation: req.Conversation, started: time.Now()}
	if c.conversation == "" {
		c.conversation = newID()
	} else {
		c.history = a.loadHistory(ctx, req.Who, c.conversation)
	}
	in := parseIntent(q)
	recipes, err := a.retrieve.Retrieve(ctx, retrievalText(q), a.opts.TopK)
	if err != nil {
		return nil, err
	}
	if len(recipes) == 0 && len(c.history) > 0 {
		// A follow-up ("and for 8 people?") is about the last answer's recipes.
		for _, id := range c.history[len(c.history)-1].Sources {
			if r, err := a.retrieve.Recipe(ctx, id); err == nil {
				recipes = append(recipes, r)
			}
		}
	}
	for i, r := range recipes {
		s := flavormonk.Source{N: i + 1, Recipe: r, Timing: in.timing}
		if in.servings > 0 {
			s.Servings = in.servings
		}
		if in.swap {
			s.Swap = swapFor(q, r)
		}
		c.sources = append(c.sources, s)
	}
	if len(c.sources) == 0 {
		return c, nil // answered without a model
	}
	c.messages = buildMessages(q, in, c.sources, c.history)
	if a.cache != nil && a.opts.CacheTTL > 0 && len(c.history) == 0 {
		c.cacheKey, c.sourcesSig = a.answerKey(q, recipes)
		// A similar question may ask for other quantities or another swap:
		// the semantic cache only matches the same asks.
		c.sourcesSig += fmt.Sprintf("|%d|%g|%v|%s", in.servings, in.factor, in.timing, swapItem(c.sources))
		if ca := a.cachedAnswer(ctx, c.cacheKey); ca != nil {
			c.cached = ca
			return c, nil
		}
		if a.semantic != nil && !personalised(q) {
			if c.qvec = a.semantic.embed(ctx, q); c.qvec != nil {
				if key, _, ok := a.semantic.lookup(c.qvec, c.sourcesSig); ok {
					if ca := a.cachedAnswer(ctx, key); ca != nil {
						c.cached, c.semantic = ca, true
						return c, nil
					}
				}
			}
		}
	}
	if a.meter != nil {
		var worst int64
		in := 0
		for _, m := range c.messages {
			in += len(m.Content) + 8 // a token is at least a byte: a strict bound
		}
		// Every attempt of every provider may be charged for the prompt
		// (a continuation's grows by the partial answer); output is
		// bounded per call.
		attempts := 1 + max(a.opts.Retries, 0)
		for _, p := range a.router.Providers() {
			worst += a.meter.Worst(p.Name(), p.Model(), (in+a.opts.MaxTokens*4)*attempts, a.opts.MaxTokens)
		}
		if c.reservation, err = a.meter.Reserve(ctx, req.Who, worst); err != nil {
			a.metrics.rejected(flavormonk.ErrorCode(err))
			return nil, err
		}
	}
	return c, nil
}

func swapItem(src []flavormonk.Source) string {
	if len(src) > 0 && src[0].Swap != nil {
		return src[0].Swap.Item
	}
	return ""
}

// answerKey identifies an answer: the normalised question, the retrieved
// recipes (by id and content, so an edited recipe is a new key) and the
// provider chain. sig is the recipes-and-chain part alone.
func (a *Assistant) answerKey(q string, recipes []*flavormonk.Recipe) (key, sig string) {
	h := sha256.New()
	h.Write([]byte("v1\x00" + a.router.String() + "\x00"))
	for _, r := range recipes {
		h.Write([]byte(r.ID + "=" + r.ContentHash() + "\x00"))
	}
	sig = hex.EncodeToString(h.Sum(nil))
	h.Write([]byte(Normalize(q)))
	return "ask:answer:" + hex.EncodeToString(h.Sum(nil)), sig
}

func (a *Assistant) cachedAnswer(ctx context.Context, key string) *cachedAnswer {
	b, ok, err := a.cache.Get(ctx, key)
	if err != nil || !ok {
		return nil
	}
	var ca cachedAnswer
	if json.Unmarshal(b, &ca) != nil || ca.Text == "" {
		return nil
	}
	return &ca
}

func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func historyKey(w flavormonk.Caller, id string) string { return "ask:conv:" + owner(w) + ":" + id }

// loadHistory returns the conversation's turns; another owner's id, an
// expired one or a cache failure all start afresh.
func (a *Assistant) loadHistory(ctx context.Context, w flavormonk.Caller, id string) []Turn {
	if a.cache == nil {
		return nil
	}
	b, ok, err := a.cache.Get(ctx, historyKey(w, id))
	if err != nil || !ok {
		return nil
	}
	var ts []Turn
	if json.Unmarshal(b, &ts) != nil {
		return nil
	}
	return ts
}

func (a *Assistant) saveHistory(ctx context.Context, w flavormonk.Caller, id string, ts []Turn) {
	if a.cache == nil {
		return
	}
	if len(ts) > a.opts.HistoryTurns {
		ts = ts[len(ts)-a.opts.HistoryTurns:]
	}
	b, _ := json.Marshal(ts)
	if err := a.cache.Set(ctx, historyKey(w, id), b, a.opts.HistoryTTL); err != nil {
		a.opts.Log.WarnContext(ctx, "conversation not saved", "err", err)
	}
}

// Release settles a reservation that Run did not (Run never started, or
// the client left before it could); it is safe to call after Run.
func (c *Call) Release(ctx context.Context) {
	c.settle(ctx, nil)
}

// Conversation is the id the answer belongs to.
func (c *Call) Conversation() string { return c.conversation }

// Run streams the answer to emit. It returns emit's error when the client
// went away (the provider call is cancelled and still metered); every
// other failure is sent as an error event.
func (c *Call) Run(ctx context.Context, emit func(Event) error) error {
	a := c.a
	ctx, cancel := context.WithTimeout(ctx, a.opts.Timeout)
	defer cancel()
	a.metrics.open(1)
	defer a.metrics.open(-1)

	cite := newCiter(len(c.sources))
	first := true
	send := func(text string) error {
		if first {
			first = false
			a.metrics.firstToken(time.Since(c.started))
		}
		if err := emit(Event{Kind: EventToken, Text: text}); err != nil {
			return err
		}
		for _, n := range cite.add(text) {
			s := c.sources[n-1]
			if err := emit(Event{Kind: EventCitation, Citation: &Citation{N: n, ID: s.Recipe.ID, Name: s.Recipe.Name, URL: a.opts.RecipeURL(s.Recipe.ID)}}); err != nil {
				return err
			}
		}
		return nil
	}
	done := &Done{Conversation: c.conversation}
	switch {
	case len(c.sources) == 0:
		done.Provider, done.Model = "none", "none"
		if err := send(noMatch); err != nil {
			return err
		}
		a.metrics.answered("no_match")
		err := emit(Event{Kind: EventDone, Done: done})
		c.finish(ctx, noMatch, nil)
		return err
	case c.cached != nil:
		done.Provider, done.Model, done.CacheHit = "cache", c.cached.Model, true
		if c.semantic {
			done.Provider = "semantic-cache"
		}
		done.Providers = []string{c.cached.Provider}
		if err := send(c.cached.Text); err != nil {
			c.settle(ctx, []flavormonk.UsageEvent{{Provider: c.cached.Provider, Model: c.cached.Model, CacheHit: true}})
			return err
		}
		a.metrics.answered("cache_hit")
		// The client has its answer before the ledger and history writes.
		err := emit(Event{Kind: EventDone, Done: done})
		c.settle(ctx, []flavormonk.UsageEvent{{Provider: c.cached.Provider, Model: c.cached.Model, CacheHit: true}})
		c.finish(ctx, c.cached.Text, nil)
		return err
	}

	res, err := a.router.Stream(ctx, flavormonk.ChatRequest{
		Messages: c.messages, MaxTokens: a.opts.MaxTokens, Temperature: a.opts.Temperature,
		Sources: c.sources,
	}, send)
	// The events' cost is left for the meter to price (from the same
	// table), so that unpriced models are counted as such.
	events := make([]flavormonk.UsageEvent, 0, len(res.Attempts))
	var cost int64
	for _, at := range res.Attempts {
		if at.Skipped != "" {
			continue
		}
		if a.meter != nil {
			cost += a.meter.Cost(at.Provider, at.Model, at.Usage)
		}
		events = append(events, flavormonk.UsageEvent{Provider: at.Provider, Model: at.Model,
			InputTokens: at.Usage.InputTokens, OutputTokens: at.Usage.OutputTokens, Seconds: at.Usage.Seconds,
			Estimated: at.Usage.Estimated})
	}
	// Settling always happens, after the client has the last event.
	defer c.settle(ctx, events)
	u := res.Usage()
	done.TokensIn, done.TokensOut, done.Estimated = u.InputTokens, u.OutputTokens, u.Estimated
	done.CostUSD = float64(cost) / 1e6
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			err = flavormonk.Errorf(flavormonk.ETIMEOUT, "the answer took longer than %s; ask again or ask something shorter", a.opts.Timeout)
		}
		var fe *flavormonk.Error
		if !errors.As(err, &fe) {
			// The client went away (emit failed) or a bug: nothing to tell.
			a.metrics.answered("cancelled")
			return err
		}
		// Why each provider failed (a revoked key, an unknown model)
		// belongs in the logs; the client gets the generic message.
		var why []string
		for _, at := range res.Attempts {
			switch {
			case at.Skipped != "":
				why = append(why, at.Provider+": skipped ("+at.Skipped+")")
			case at.Err != nil:
				why = append(why, at.Err.Error())
			}
		}
		a.opts.Log.WarnContext(ctx, "assistant answer failed", "err", err, "attempts", strings.Join(why, "; "))
		a.metrics.answered("error")
		return emit(Event{Kind: EventError, Err: fe})
	}
	done.Provider, done.Model, done.Providers = res.Provider, res.Model, res.Contributors()
	if c.cacheKey != "" && res.Provider != "offline" {
		b, _ := json.Marshal(cachedAnswer{Text: res.Text, Provider: res.Provider, Model: res.Model})
		if err := a.cache.Set(context.WithoutCancel(ctx), c.cacheKey, b, a.opts.CacheTTL); err != nil {
			a.opts.Log.WarnContext(ctx, "answer not cached", "err", err)
		} else if c.qvec != nil {
			a.semantic.add(c.qvec, c.sourcesSig, c.cacheKey)
		}
	}
	a.metrics.answered("ok")
	err = emit(Event{Kind: EventDone, Done: done})
	c.finish(ctx, res.Text, nil)
	return err
}

// settle records what the answer cost, even when the client has gone,
// once: later calls do nothing.
func (c *Call) settle(ctx context.Context, events []flavormonk.UsageEvent) {
	if c.settled || c.a.meter == nil {
		return
	}
	c.settled = true
	if c.reservation == nil && len(events) == 0 {
		return // nothing reserved, nothing to record (a no-match answer)
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if c.reservation == nil {
		// Cache hits and no-match answers reserve nothing but are recorded.
		r, err := c.a.meter.Reserve(ctx, c.req.Who, 0)
		if err != nil {
			c.a.opts.Log.WarnContext(ctx, "usage not recorded", "err", err)
			return
		}
		c.reservation = r
	}
	if err := c.reservation.Settle(ctx, events); err != nil {
		c.a.opts.Log.ErrorContext(ctx, "usage not settled", "err", err)
	}
}

// finish appends the turn to the conversation.
func (c *Call) finish(ctx context.Context, answer string, _ error) {
	ids := make([]string, len(c.sources))
	for i, s := range c.sources {
		ids[i] = s.Recipe.ID
	}
	ts := append(slices.Clip(c.history), Turn{Question: c.req.Question, Answer: strings.TrimSpace(answer), Sources: ids})
	c.a.saveHistory(context.WithoutCancel(ctx), c.req.Who, c.conversation, ts)
}
