package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	var out bytes.Buffer
	if err := run(context.Background(), []string{"-k", "10", "-show", "3", "-v"}, &out); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{"recall@10", "nDCG@10", "\nlexical ", "\nhybrid ", "by kind of query", "differ most", "MEAN ("} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if testing.Verbose() {
		t.Log("\n" + s)
	}
}

func TestRunRejects(t *testing.T) {
	for _, args := range [][]string{{"-k", "0"}, {"-k", "1000"}, {"-neighbours", "0"}, {"-judged", "does/not/exist.json"}, {"extra"}} {
		if err := run(context.Background(), args, &bytes.Buffer{}); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
