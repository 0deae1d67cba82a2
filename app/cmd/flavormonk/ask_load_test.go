package main

import (
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/flavormonk/flavormonk/app/inference/openaitest"
	"github.com/flavormonk/flavormonk/app/inference/replicatetest"
	"github.com/flavormonk/flavormonk/app/inference/script"
	"github.com/flavormonk/flavormonk/app/recipes"
)

// TestAskLoadPrimaryDiesMidway: many concurrent answers while the primary
// provider fails: after a third of the answers its streams break midway
// (the next provider continues them), after two thirds it answers only 500s.
// Every answer still completes, and the usage ledger holds exactly what the
// servers reported plus the estimates marked as such.
//
// (The servers are killed by injected faults rather than by closing them:
// a server closed while it writes a usage chunk has counted usage that the
// client never received, which no client could meter exactly.)
func TestAskLoadPrimaryDiesMidway(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const asks, workers = 120, 24
	answerText := "Rinse the lentils, simmer them with turmeric until soft, then pour over the sizzling cumin and garlic [1]. Serve with rice."
	timing := script.Timing{FirstToken: 20 * time.Millisecond, Interval: 4 * time.Millisecond}
	primary := openaitest.New(openaitest.Options{Answer: answerText, Timing: timing})
	secondary := replicatetest.New(replicatetest.Options{Answer: answerText, Timing: timing})
	defer secondary.Close()
	dbPath := t.TempDir() + "/fm.db"
	m := startMain(t, testConfig(t, map[string]string{
		"FLAVORMONK_SQLITE_PATH": dbPath,
		"FLAVORMONK_INFERENCE":   "openai,replicate", "OPENAI_API_KEY": "sk-x", "OPENAI_BASE_URL": primary.URL(),
		"REPLICATE_API_TOKEN": "r8-x", "FLAVORMONK_REPLICATE_BASE_URL": secondary.URL(),
		"FLAVORMONK_ANSWER_CACHE_TTL": "0s", "FLAVORMONK_INFERENCE_RETRIES": "1",
		"FLAVORMONK_BUDGET_USD": "0", "FLAVORMONK_QUOTA_ANON_USD": "unlimited",
	}))
	rs, err := recipes.Bundled()
	mustOK(t, err)

	defer primary.Close()
	var completed atomic.Int64
	results := make([]answer, asks)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				results[i] = askApp(t, m.URL(), fmt.Sprintf("How do I cook %s?", rs[i%len(rs)].Name))
				switch completed.Add(1) {
				case asks / 3:
					primary.Inject(script.Fault{Kind: script.Cut, After: 3})
				case 2 * asks / 3:
					primary.Inject(script.Fault{Kind: script.HTTP500})
				}
			}
		}()
	}
	for i := 0; i < asks; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()

	var tokIn, tokOut int64
	byProvider := map[string]int{}
	for i, a := range results {
		if a.status != 200 || a.err != nil || a.done == nil {
			t.Fatalf("ask %d did not complete: status %d err %v", i, a.status, a.err)
		}
		tokIn += int64(a.done.TokensIn)
		tokOut += int64(a.done.TokensOut)
		byProvider[a.done.Provider]++
	}
	if byProvider["openai"] == 0 || byProvider["replicate"] == 0 {
		t.Fatalf("finishers %v: the primary should finish answers before it dies and the secondary after", byProvider)
	}
	// Settling happens after the done event: wait for the ledger to hold
	// every answer's usage.
	db, err := sql.Open("sqlite", dbPath+"?mode=ro")
	mustOK(t, err)
	defer db.Close()
	var ledgerIn, ledgerOut, exactIn, exactOut, estimated int64
	deadline := time.Now().Add(10 * time.Second)
	for {
		mustOK(t, db.QueryRow(`SELECT COALESCE(SUM(tokens_in),0), COALESCE(SUM(tokens_out),0),
			COALESCE(SUM(CASE WHEN estimated=0 THEN tokens_in END),0), COALESCE(SUM(CASE WHEN estimated=0 THEN tokens_out END),0),
			COALESCE(SUM(estimated),0) FROM usage_events`).Scan(&ledgerIn, &ledgerOut, &exactIn, &exactOut, &estimated))
		if ledgerIn == tokIn && ledgerOut == tokOut || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	p, s := primary.Stats(), secondary.Stats()
	if ledgerIn != tokIn || ledgerOut != tokOut {
		t.Fatalf("ledger in/out %d/%d, the answers' done events say %d/%d", ledgerIn, ledgerOut, tokIn, tokOut)
	}
	if exactIn != p.InputTokens+s.InputTokens || exactOut != p.OutputTokens+s.OutputTokens {
		t.Fatalf("ledger's reported usage in/out %d/%d, the servers reported %d/%d", exactIn, exactOut, p.InputTokens+s.InputTokens, p.OutputTokens+s.OutputTokens)
	}
	if estimated == 0 || estimated != p.Streams-p.Completed {
		t.Fatalf("%d estimated events for %d broken primary streams", estimated, p.Streams-p.Completed)
	}
	t.Logf("%d answers: finished by %v; primary streams %d (completed %d), secondary completed %d; ledger %d in / %d out tokens, of which %d events estimated (%d in / %d out)",
		asks, byProvider, p.Streams, p.Completed, s.Completed, ledgerIn, ledgerOut, estimated, ledgerIn-exactIn, ledgerOut-exactOut)
}
