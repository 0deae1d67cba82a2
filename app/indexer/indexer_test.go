package indexer

import "testing"

func TestHash(t *testing.T) {
	h := Hash("local-hash-v2", "chicken curry")
	if h == "" || h != Hash("local-hash-v2", "chicken curry") {
		t.Fatal("Hash is not deterministic")
	}
	if Hash("openai/text-embedding-3-small", "chicken curry") == h {
		t.Error("Hash ignores the model")
	}
	if Hash("local-hash-v2", "chicken korma") == h {
		t.Error("Hash ignores the text")
	}
}
