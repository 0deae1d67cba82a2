package urlparam

import (
	"net/url"
	"slices"
	"testing"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

func TestList(t *testing.T) {
	v, _ := url.ParseQuery("include=onion,+garlic&include=rice&include=,&exclude=peanut")
	if got := List(v, "include"); !slices.Equal(got, []string{"onion", "garlic", "rice"}) {
		t.Errorf("List = %q", got)
	}
	if got := List(v, "tag"); got != nil {
		t.Errorf("absent List = %q, want nil", got)
	}
}

func TestInt(t *testing.T) {
	v, _ := url.ParseQuery("servings=4&blank=+&low=0&high=1001&word=four")
	if n, err := Int(v, "servings", 1, 1000, "servings"); n != 4 || err != nil {
		t.Errorf("servings = %d, %v", n, err)
	}
	for _, name := range []string{"blank", "absent"} {
		if n, err := Int(v, name, 1, 1000, "servings"); n != 0 || err != nil {
			t.Errorf("%s = %d, %v; want 0 and no error", name, n, err)
		}
	}
	for _, name := range []string{"low", "high", "word"} {
		_, err := Int(v, name, 1, 1000, "servings")
		fe, ok := err.(*flavormonk.Error)
		if !ok || fe.Code != flavormonk.EINVALID {
			t.Fatalf("%s: %v", name, err)
		}
		if fe.Field != name || fe.Message != "must be a whole number of servings between 1 and 1000" {
			t.Errorf("%s: field %q, message %q", name, fe.Field, fe.Message)
		}
	}
}
