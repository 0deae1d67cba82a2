package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// mainRollout runs -phase rollout and returns the exit status.
func mainRollout(ctx context.Context, o options) int {
	ro := o.roll
	ro.Now, ro.Logf, ro.PGBase = flavormonk.SystemClock, logf, o.pgURL
	ro.Paths = strings.Split(o.paths, ",")
	if ro.Rate < 1 || ro.Rate > 2000 {
		fmt.Fprintln(os.Stderr, "fmrehearse: -rate wants 1..2000 requests per second")
		return 2
	}
	rep := &RolloutReport{}
	work, err := prepareRollout(ctx, &ro)
	if err == nil {
		rep, err = runRollout(ctx, ro)
	}
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (the rehearsal is bounded to %s)", err, o.budget)
		} else if errors.Is(err, context.Canceled) {
			err = errors.New("interrupted")
		}
		rep.Failures = append(rep.Failures, "rehearsal did not complete: "+err.Error())
	}
	rep.print(os.Stdout, ro.Now.Now())
	if work != "" {
		if o.keep || rep.failed() {
			fmt.Printf("\nlogs and files kept in %s\n", work)
		} else {
			_ = os.RemoveAll(work)
		}
	}
	if rep.failed() {
		return 1
	}
	return 0
}

// prepareRollout fills in the workspace, the work directory and Postgres.
func prepareRollout(ctx context.Context, ro *rolloutOptions) (string, error) {
	var err error
	if ro.Root, err = workspaceRoot(); err != nil {
		return "", err
	}
	if ro.Work, err = os.MkdirTemp("", "fmrehearse-rollout-"); err != nil {
		return "", err
	}
	if ro.PGBase == "" {
		logf("starting Postgres (scripts/postgres.sh start)")
		out, err := runCmd(ctx, 3*time.Minute, "postgres.sh start", exec.Command(filepath.Join(ro.Root, "scripts", "postgres.sh"), "start"), filepath.Join(ro.Work, "services.log"))
		if err != nil {
			return ro.Work, err
		}
		ro.PGBase = strings.TrimSpace(out)
	}
	reapStale(ro.PGBase, logf)
	return ro.Work, nil
}
