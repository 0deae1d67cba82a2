package ingredient_test

import (
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/ingredient"
)

func TestParse(t *testing.T) {
	tests := []struct {
		line     string
		qty, max float64
		unit     string
		item     string
		note     string
	}{
		{"2 cups all-purpose flour", 2, 0, "cup", "all-purpose flour", ""},
		{"1 1/2 cups sugar", 1.5, 0, "cup", "sugar", ""},
		{"1½ cups milk", 1.5, 0, "cup", "milk", ""},
		{"1 ½ cups milk", 1.5, 0, "cup", "milk", ""},
		{"1¼ tsp baking soda", 1.25, 0, "tsp", "baking soda", ""},
		{"½ teaspoon salt", 0.5, 0, "tsp", "salt", ""},
		{"¾ cup (170 g) unsalted butter, melted", 0.75, 0, "cup", "unsalted butter", "170 g, melted"},
		{"1/4 cup olive oil", 0.25, 0, "cup", "olive oil", ""},
		{"1-1/2 cups water", 1.5, 0, "cup", "water", ""},
		{"2-3 cloves garlic, minced", 2, 3, "clove", "garlic", "minced"},
		{"2–3 tbsp lemon juice", 2, 3, "tbsp", "lemon juice", ""},
		{"2 to 3 Tablespoons honey", 2, 3, "tbsp", "honey", ""},
		{"2 or 3 eggs", 2, 3, "", "eggs", ""},
		{"1 can (400 g) tomatoes", 1, 0, "can", "tomatoes", "400 g"},
		{"1 (14.5 oz) can diced tomatoes, drained", 1, 0, "can", "diced tomatoes", "14.5 oz, drained"},
		{"400g chopped tomatoes", 400, 0, "g", "chopped tomatoes", ""},
		{"1.5 kg potatoes, peeled and cubed", 1.5, 0, "kg", "potatoes", "peeled and cubed"},
		{"1,5 kg Kartoffeln", 1.5, 0, "kg", "kartoffeln", ""},
		{"250 ml double cream", 250, 0, "ml", "double cream", ""},
		{"2 Tbsp. soy sauce", 2, 0, "tbsp", "soy sauce", ""},
		{"1 T butter", 1, 0, "tbsp", "butter", ""},
		{"1 t vanilla extract", 1, 0, "tsp", "vanilla extract", ""},
		{"3 TBSP BUTTER", 3, 0, "tbsp", "butter", ""},
		{"8 fl oz chicken stock", 8, 0, "fl oz", "chicken stock", ""},
		{"8 fl. oz. chicken stock", 8, 0, "fl oz", "chicken stock", ""},
		{"1 lb ground beef", 1, 0, "lb", "ground beef", ""},
		{"2 pounds boneless skinless chicken thighs", 2, 0, "lb", "boneless skinless chicken thighs", ""},
		{"16 ounces pasta", 16, 0, "oz", "pasta", ""},
		{"2 large eggs", 2, 0, "", "eggs", "large"},
		{"1 medium onion, finely chopped", 1, 0, "", "onion", "medium, finely chopped"},
		{"1 heaping tbsp sugar", 1, 0, "tbsp", "sugar", "heaping"},
		{"Salt and pepper to taste", 0, 0, "", "salt and pepper", "to taste"},
		{"salt, to taste", 0, 0, "", "salt", "to taste"},
		{"Fresh parsley, for garnish", 0, 0, "", "fresh parsley", "for garnish"},
		{"pinch of salt", 0, 0, "pinch", "salt", ""},
		{"a pinch of nutmeg", 1, 0, "pinch", "nutmeg", ""},
		{"A handful of basil leaves", 1, 0, "handful", "basil leaves", ""},
		{"1 bunch cilantro", 1, 0, "bunch", "cilantro", ""},
		{"3 sprigs thyme", 3, 0, "sprig", "thyme", ""},
		{"1 stick butter, softened", 1, 0, "stick", "butter", "softened"},
		{"2 slices bread", 2, 0, "slice", "bread", ""},
		{"4 pieces of chicken", 4, 0, "piece", "chicken", ""},
		{"1 quart chicken broth", 1, 0, "quart", "chicken broth", ""},
		{"2 pints strawberries", 2, 0, "pint", "strawberries", ""},
		{"dash of hot sauce", 0, 0, "dash", "hot sauce", ""},
		{"1 tin chickpeas, drained and rinsed", 1, 0, "can", "chickpeas", "drained and rinsed"},
		{"2 x 400g tins chopped tomatoes", 2, 0, "can", "chopped tomatoes", "400 g"},
		{"3 eggs", 3, 0, "", "eggs", ""},
		{"two cups rice", 2, 0, "cup", "rice", ""},
		{"1 cup grated Parmesan cheese (optional)", 1, 0, "cup", "grated parmesan cheese", "optional"},
		{"Olive oil, as needed", 0, 0, "", "olive oil", "as needed"},
		{"▢ 2 cups flour", 2, 0, "cup", "flour", ""},
		{"1,000 g flour", 1000, 0, "g", "flour", ""},
		{"0.5 l water", 0.5, 0, "l", "water", ""},
		{"1 ⅓ cups oats", 1 + 1.0/3, 0, "cup", "oats", ""},
		{"3 cloves of garlic", 3, 0, "clove", "garlic", ""},
		{"1 small red onion", 1, 0, "", "red onion", "small"},
		{"10 cherry tomatoes, halved", 10, 0, "", "cherry tomatoes", "halved"},
		{"Juice of 1 lemon", 0, 0, "", "juice of 1 lemon", ""},
		{"1 can coconut milk", 1, 0, "can", "coconut milk", ""},
		{"5-spice powder", 0, 0, "", "5-spice powder", ""},
		{"", 0, 0, "", "", ""},
		{"3 1/0 cups", 3, 0, "", "1/0 cups", ""},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got := ingredient.Parse(tt.line)
			if math.Abs(got.Quantity-tt.qty) > 1e-9 || math.Abs(got.QuantityMax-tt.max) > 1e-9 ||
				got.Unit != tt.unit || got.Item != tt.item || got.Note != tt.note {
				t.Errorf("Parse(%q)\n got qty=%v max=%v unit=%q item=%q note=%q\nwant qty=%v max=%v unit=%q item=%q note=%q",
					tt.line, got.Quantity, got.QuantityMax, got.Unit, got.Item, got.Note,
					tt.qty, tt.max, tt.unit, tt.item, tt.note)
			}
			if got.Text != strings.TrimSpace(tt.line) {
				t.Errorf("Text = %q", got.Text)
			}
		})
	}
}

func TestParseBounded(t *testing.T) {
	long := strings.Repeat("1 1/2 (cups) ", 100000)
	got := ingredient.Parse(long)
	if len(got.Text) > ingredient.MaxLineBytes {
		t.Fatalf("Text is %d bytes", len(got.Text))
	}
	got = ingredient.Parse(strings.Repeat("é", 400)) // cut in the middle of a rune
	if !utf8.ValidString(got.Text) || !utf8.ValidString(got.Item) {
		t.Fatalf("invalid UTF-8: %q", got.Text)
	}
	if q := ingredient.Parse("99999999999 eggs").Quantity; q != 0 {
		t.Fatalf("absurd quantity parsed: %v", q)
	}
}

func TestFormatQuantity(t *testing.T) {
	tests := []struct {
		q    float64
		want string
	}{
		{0, "0"}, {1, "1"}, {2, "2"}, {0.5, "½"}, {1.5, "1 ½"}, {1.0 / 3, "⅓"}, {0.333, "⅓"},
		{2.0 / 3, "⅔"}, {0.25, "¼"}, {0.75, "¾"}, {0.125, "⅛"}, {2.375, "2 ⅜"}, {0.2, "0.2"},
		{1.15, "1.15"}, {0.999, "1"}, {2.004, "2"}, {150.4, "150"}, {-1, "0"},
		{math.NaN(), "0"}, {math.Inf(1), "0"}, {12.5, "12 ½"},
	}
	for _, tt := range tests {
		if got := ingredient.FormatQuantity(tt.q); got != tt.want {
			t.Errorf("FormatQuantity(%v) = %q, want %q", tt.q, got, tt.want)
		}
	}
}

func TestScaleAndFormat(t *testing.T) {
	tests := []struct {
		line   string
		factor float64
		want   string
	}{
		{"1 cup flour", 2, "2 cups flour"},
		{"1 1/2 cups sugar", 0.5, "¾ cup sugar"},
		{"2-3 cloves garlic, minced", 2, "4–6 cloves garlic, minced"},
		{"3 eggs", 1.0 / 3, "1 eggs"},
		{"1 tbsp oil", 3, "3 tbsp oil"},
		{"Salt and pepper to taste", 2, "salt and pepper, to taste"},
		{"pinch of salt", 4, "a pinch of salt"},
		{"1 can (400 g) tomatoes", 2, "2 cans tomatoes, 400 g"},
		{"200 g butter", 0.3, "60 g butter"},
		{"1 onion", 0.2, "0.2 onion"},
		{"(just parentheses)", 2, "(just parentheses)"},
	}
	for _, tt := range tests {
		got := ingredient.Format(ingredient.Scale(ingredient.Parse(tt.line), tt.factor))
		if got != tt.want {
			t.Errorf("Format(Scale(%q, %v)) = %q, want %q", tt.line, tt.factor, got, tt.want)
		}
	}
	ing := ingredient.Parse("2 cups flour")
	for _, f := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if got := ingredient.Scale(ing, f); got != ing {
			t.Errorf("Scale by %v changed the ingredient: %+v", f, got)
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"tomatoes", "tomato"},
		{"Cherry Tomatoes", "cherry tomato"},
		{"potatoes", "potato"},
		{"berries", "berry"},
		{"fresh bay leaves", "bay leaf"},
		{"boneless skinless chicken breasts", "chicken breast"},
		{"large eggs", "egg"},
		{"ground beef", "ground beef"},
		{"ground cinnamon", "cinnamon"},
		{"freshly ground black pepper", "black pepper"},
		{"finely chopped onions", "onion"},
		{"peaches", "peach"},
		{"radishes", "radish"},
		{"olives", "olive"},
		{"garlic cloves", "garlic clove"},
		{"asparagus", "asparagus"},
		{"hummus", "hummus"},
		{"extra-virgin olive oil", "olive oil"},
		{"brown sugar", "brown sugar"},
		{"Parmesan cheese, grated", "parmesan cheese"},
		{"cookies", "cookie"},
		{"grass", "grass"},
		{"jalapeños", "jalapeño"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := ingredient.Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"2 cups flour", "1 1/2 cups sugar", "½ tsp salt", "2-3 cloves garlic, minced",
		"1 can (400 g) tomatoes", "salt to taste", "1-1/2 cups", "2 x 400g tins", "a pinch of salt",
		"1,5 kg", "3 1/0", "((((", "1 ⅓", "2 to 1 cups", "0/0", "1e308 g", "9999999/1 eggs",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		ing := ingredient.Parse(line)
		check(t, line, ing)
		scaled := ingredient.Scale(ing, 2.5)
		check(t, line, scaled)
		out := ingredient.Format(scaled)
		if utf8.ValidString(line) && !utf8.ValidString(out) {
			t.Fatalf("Format: invalid UTF-8 %q", out)
		}
		if n := ingredient.Normalize(ing.Item); utf8.ValidString(line) && !utf8.ValidString(n) {
			t.Fatalf("Normalize: invalid UTF-8 %q", n)
		}
	})
}

func check(t *testing.T, line string, ing flavormonk.Ingredient) {
	t.Helper()
	if !(ing.Quantity >= 0) || math.IsInf(ing.Quantity, 0) {
		t.Fatalf("Parse(%q): Quantity %v", line, ing.Quantity)
	}
	if ing.QuantityMax != 0 && !(ing.QuantityMax >= ing.Quantity) {
		t.Fatalf("Parse(%q): QuantityMax %v < Quantity %v", line, ing.QuantityMax, ing.Quantity)
	}
	if utf8.ValidString(line) {
		for _, s := range []string{ing.Text, ing.Unit, ing.Item, ing.Note} {
			if !utf8.ValidString(s) {
				t.Fatalf("Parse(%q): invalid UTF-8 %q", line, s)
			}
		}
	}
}

func TestScaleRecipe(t *testing.T) {
	r := &flavormonk.Recipe{ID: "dal", Servings: 4, Ingredients: []flavormonk.Ingredient{
		ingredient.Parse("2 cups red lentils"), ingredient.Parse("salt to taste")}}
	got, err := ingredient.ScaleRecipe(r, 6)
	if err != nil {
		t.Fatal(err)
	}
	if got.Servings != 6 || got.Ingredients[0].Quantity != 3 || got.Ingredients[1] != r.Ingredients[1] || got.ID != "dal" {
		t.Errorf("scaled %+v", got)
	}
	if r.Servings != 4 || r.Ingredients[0].Quantity != 2 {
		t.Errorf("the recipe itself changed: %+v", r)
	}
	_, err = ingredient.ScaleRecipe(&flavormonk.Recipe{Ingredients: r.Ingredients}, 6)
	if err == nil || err.Error() != "servings: this recipe does not say how many it serves, so it cannot be scaled" {
		t.Errorf("no servings: %v", err)
	}
	if _, err := ingredient.ScaleRecipe(r, 0); flavormonk.ErrorCode(err) != flavormonk.EINVALID {
		t.Errorf("0 servings: %v", err)
	}
}

// The recipe page's line keeps the quantity apart for its script.
func TestSplit(t *testing.T) {
	for line, want := range map[string]ingredient.Line{
		"2-3 cloves garlic, minced": {Qty: 2, QtyMax: 3, QtyText: "2–3", Rest: "clove garlic, minced", Text: "2-3 cloves garlic, minced"},
		"1 1/2 cups sugar":          {Qty: 1.5, QtyText: "1 ½", Rest: "cup sugar", Text: "1 1/2 cups sugar"},
		"Salt and pepper to taste":  {Text: "Salt and pepper to taste"},
		"3 eggs":                    {Qty: 3, QtyText: "3", Rest: "eggs", Text: "3 eggs"},
	} {
		if got := ingredient.Split(ingredient.Parse(line)); got != want {
			t.Errorf("Split(%q) = %+v, want %+v", line, got, want)
		}
	}
}
