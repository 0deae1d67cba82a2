package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/inference/openaitest"
	"github.com/flavormonk/flavormonk/app/inference/script"
	"github.com/flavormonk/flavormonk/app/recipes"
)

// AskResults are the assistant's figures: the time to first token the app
// adds over its provider, concurrent streams, and the answer cache.
type AskResults struct {
	Date            string  `json:"date"`
	FirstTokenDelay float64 `json:"provider_first_token_delay_ms"`
	Samples         int     `json:"ttft_samples"`
	DirectP50       float64 `json:"ttft_direct_p50_ms"`
	AppP50          float64 `json:"ttft_app_p50_ms"`
	OverheadP50     float64 `json:"ttft_overhead_p50_ms"`
	OverheadP90     float64 `json:"ttft_overhead_p90_ms"`
	OverheadPass    bool    `json:"ttft_overhead_pass"` // ≤ 2 ms at p50

	Streams        int     `json:"concurrent_streams"`
	StreamErrors   int     `json:"stream_errors"`
	IdleRSS        int64   `json:"idle_rss_bytes"`
	PeakRSS        int64   `json:"peak_rss_bytes"`
	BytesPerStream float64 `json:"rss_bytes_per_open_stream"`
	StreamsWallS   float64 `json:"streams_wall_seconds"`

	CacheQuestions   int     `json:"cache_questions"`
	MissP50          float64 `json:"cache_miss_p50_ms"`
	HitP50           float64 `json:"cache_hit_p50_ms"`
	HitSpeedup       float64 `json:"cache_hit_speedup"`
	ZeroDelayMissP50 float64 `json:"cache_miss_zero_delay_p50_ms"`
	ZeroDelaySpeedup float64 `json:"cache_hit_speedup_zero_delay"`
	CachePass        bool    `json:"cache_pass"` // ≥ 10× at zero delay
}

// askBench runs `fmbench ask`.
func askBench(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fmbench ask", flag.ExitOnError)
	bin := fs.String("bin", "", "flavormonk binary (default: build ./cmd/flavormonk)")
	samples := fs.Int("samples", 200, "sequential time-to-first-token samples, each direct and through the app")
	streams := fs.Int("streams", 200, "concurrent answer streams")
	delay := fs.Duration("first-token", 50*time.Millisecond, "the provider's fixed first-token delay")
	out := fs.String("out", "", "JSON results (default: <workspace>/bench-results/ask.json)")
	_ = fs.Parse(args)
	if *out == "" {
		*out = filepath.Join(workspaceRoot(), "bench-results", "ask.json")
	}
	dir, err := os.MkdirTemp("", "fmbench-ask-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	defer stopAll()
	if *bin == "" {
		*bin = filepath.Join(dir, "flavormonk")
		logf("building flavormonk")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", *bin, "github.com/flavormonk/flavormonk/app/cmd/flavormonk")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("building flavormonk: %w", err)
		}
	}
	rs, err := recipes.Bundled()
	if err != nil {
		return err
	}
	answer := strings.TrimSpace(strings.Repeat("Simmer the lentils until soft and season well [1]. ", 6))
	srv := openaitest.New(openaitest.Options{Answer: answer, Timing: script.Timing{FirstToken: *delay, Interval: 2 * time.Millisecond}})
	defer srv.Close()
	res := &AskResults{Date: time.Now().UTC().Format(time.RFC3339), FirstTokenDelay: ms(*delay), Samples: *samples, Streams: *streams}

	start := func(cacheTTL string) (*proc, string, error) {
		p, _, err := startApp(ctx, *bin, map[string]string{
			"FLAVORMONK_SQLITE_PATH": filepath.Join(dir, "ask-"+cacheTTL+".db"), "FLAVORMONK_SEED": "true",
			"FLAVORMONK_CACHE": "memory", "FLAVORMONK_ANSWER_CACHE_TTL": cacheTTL,
			"OPENAI_API_KEY": "sk-bench", "OPENAI_BASE_URL": srv.URL(), "FLAVORMONK_INFERENCE": "openai",
			"FLAVORMONK_BUDGET_USD": "0", "FLAVORMONK_QUOTA_ANON_USD": "unlimited",
			"FLAVORMONK_INFERENCE_CONCURRENCY": "1000",
		})
		if err != nil {
			return nil, "", err
		}
		return p, "http://" + p.addr, nil
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 512, MaxConnsPerHost: 0}}
	question := func(i int) string { return fmt.Sprintf("How do I cook %s?", rs[i%len(rs)].Name) }

	// 1. Time to first token: direct to the provider, and through the app
	// (answer cache off), alternating, on the same prompt size.
	app, base, err := start("0s")
	if err != nil {
		return err
	}
	logf("ask: time to first token, %d samples each way, provider first-token delay %s", *samples, *delay)
	var prompt string
	if _, _, err := askOnce(ctx, client, base, question(0)); err != nil {
		return fmt.Errorf("warm-up answer: %w", err)
	}
	prompt = srv.LastPrompt()
	var direct, through, diffs []float64
	for i := 0; i < *samples; i++ {
		d, err := directFirstToken(ctx, client, srv.URL(), prompt)
		if err != nil {
			return fmt.Errorf("direct stream: %w", err)
		}
		a, _, err := askOnce(ctx, client, base, question(0))
		if err != nil {
			return fmt.Errorf("answer %d: %w", i, err)
		}
		direct, through, diffs = append(direct, ms(d)), append(through, ms(a)), append(diffs, ms(a)-ms(d))
	}
	res.DirectP50, res.AppP50 = median(direct), median(through)
	res.OverheadP50, res.OverheadP90 = percentile(diffs, 50), percentile(diffs, 90)
	res.OverheadPass = res.OverheadP50 <= 2
	logf("ask: TTFT p50 direct %.2f ms, through the app %.2f ms: overhead p50 %.2f ms, p90 %.2f ms (target ≤ 2 ms at p50)", res.DirectP50, res.AppP50, res.OverheadP50, res.OverheadP90)

	// 2. Concurrent streams: long answers so that all are open together.
	srv.SetTiming(script.Timing{FirstToken: *delay, Interval: 40 * time.Millisecond})
	time.Sleep(2 * time.Second)
	idle, _, err := memory(app.pid())
	if err != nil {
		return err
	}
	var peak atomic.Int64
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				if rss, _, err := memory(app.pid()); err == nil && rss > peak.Load() {
					peak.Store(rss)
				}
			}
		}
	}()
	var wg sync.WaitGroup
	var failed atomic.Int64
	t0 := time.Now()
	for i := 0; i < *streams; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if _, _, err := askOnce(ctx, client, base, question(i)); err != nil {
				if failed.Add(1) <= 3 {
					logf("ask: stream %d: %v", i, err)
				}
			}
		}(i)
	}
	wg.Wait()
	close(stop)
	res.StreamsWallS = time.Since(t0).Seconds()
	res.StreamErrors = int(failed.Load())
	res.IdleRSS, res.PeakRSS = idle, peak.Load()
	res.BytesPerStream = float64(res.PeakRSS-res.IdleRSS) / float64(*streams)
	logf("ask: %d concurrent streams in %.1f s, %d errors; RSS idle %.1f MB, peak %.1f MB: %.1f KB per open stream",
		*streams, res.StreamsWallS, res.StreamErrors, mb(idle), mb(res.PeakRSS), res.BytesPerStream/1024)
	app.stop()

	// 3. Answer cache: a miss (the provider answers) then a hit, per
	// question, with the realistic delay and with a zero-delay provider.
	app, base, err = start("1h")
	if err != nil {
		return err
	}
	defer app.stop()
	cacheRun := func(offset int, timing script.Timing) (miss, hit []float64, err error) {
		srv.SetTiming(timing)
		for i := 0; i < 40; i++ {
			q := question(offset + i)
			_, m, err := askOnce(ctx, client, base, q)
			if err != nil {
				return nil, nil, err
			}
			_, h, err := askOnce(ctx, client, base, q)
			if err != nil {
				return nil, nil, err
			}
			miss, hit = append(miss, ms(m)), append(hit, ms(h))
		}
		return miss, hit, nil
	}
	miss, hit, err := cacheRun(0, script.Timing{FirstToken: *delay, Interval: 2 * time.Millisecond})
	if err != nil {
		return err
	}
	res.CacheQuestions = len(miss)
	res.MissP50, res.HitP50 = median(miss), median(hit)
	res.HitSpeedup = res.MissP50 / res.HitP50
	miss0, hit0, err := cacheRun(40, script.Timing{})
	if err != nil {
		return err
	}
	res.ZeroDelayMissP50 = median(miss0)
	res.ZeroDelaySpeedup = median(miss0) / median(hit0)
	res.CachePass = res.HitSpeedup >= 10
	logf("ask: whole answer p50: miss %.1f ms, hit %.2f ms (%.0f×); with a zero-delay provider miss %.2f ms, hit %.2f ms (%.1f×); target ≥ 10× against the delayed provider",
		res.MissP50, res.HitP50, res.HitSpeedup, res.ZeroDelayMissP50, median(hit0), res.ZeroDelaySpeedup)

	b, _ := json.MarshalIndent(res, "", "  ")
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(*out, append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("\nassistant results written to %s\n", *out)
	if res.StreamErrors > 0 {
		return fmt.Errorf("%d of %d concurrent streams failed", res.StreamErrors, *streams)
	}
	return nil
}

// askOnce asks the app and returns the time to the first token event and
// to the done event.
func askOnce(ctx context.Context, c *http.Client, base, q string) (first, total time.Duration, err error) {
	body, _ := json.Marshal(map[string]string{"question": q})
	req, _ := http.NewRequestWithContext(ctx, "POST", base+"/api/v1/ask", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	t0 := time.Now()
	res, err := c.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		return 0, 0, fmt.Errorf("status %d", res.StatusCode)
	}
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "event: token" && first == 0:
			first = time.Since(t0)
		case line == "event: done":
			return first, time.Since(t0), nil
		case line == "event: error":
			sc.Scan()
			return 0, 0, errors.New(sc.Text())
		}
	}
	return 0, 0, fmt.Errorf("the stream ended without done: %v", sc.Err())
}

// directFirstToken streams a chat completion straight from the provider
// server and returns the time to its first content chunk.
func directFirstToken(ctx context.Context, c *http.Client, baseURL, prompt string) (time.Duration, error) {
	body, _ := json.Marshal(map[string]any{
		"model": "gpt-4o-mini", "stream": true, "stream_options": map[string]bool{"include_usage": true},
		"messages": []flavormonk.Message{{Role: "system", Content: prompt}, {Role: "user", Content: "How do I cook it?"}},
	})
	req, _ := http.NewRequestWithContext(ctx, "POST", baseURL+"/chat/completions", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sk-bench")
	t0 := time.Now()
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	var first time.Duration
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if first == 0 && strings.HasPrefix(line, "data: {") && strings.Contains(line, `"content":"`) && !strings.Contains(line, `"content":""`) {
			first = time.Since(t0)
		}
	}
	if first == 0 {
		return 0, fmt.Errorf("no content chunk (status %d)", res.StatusCode)
	}
	return first, nil
}

func percentile(xs []float64, p float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}
