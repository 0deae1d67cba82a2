// Package synth generates synthetic but realistic-looking recipes and search
// queries for benchmarks and load tests. Everything is deterministic for a
// given seed: the same (n, seed) always yields the same recipes.
//
// Words are drawn from Zipf distributions, as in real collections: a few
// ingredients ("garlic", "onion", "chicken") appear in a large share of the
// recipes, most appear in few. Diets follow from the ingredients.
package synth

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

// ingredient kinds, as bit flags, from which diets are derived.
const (
	meat    = 1 << iota // not vegetarian
	fish                // not vegetarian
	dairy               // not vegan, not dairy-free
	egg                 // not vegan
	gluten              // not gluten-free
	pork                // not halal
	alcohol             // not halal
	honey               // not vegan
	main                // can headline a dish name
)

type ing struct {
	item  string
	units []string // candidate units; "" means a count ("2 onions")
	lo    float64  // quantity range
	hi    float64
	kind  int
	note  string
}

// pantry lists ingredients roughly from the most to the least common; the
// generator draws them Zipf-like by this rank.
var pantry = []ing{
	{"garlic", []string{"clove"}, 1, 6, 0, "minced"},
	{"onion", []string{""}, 1, 3, 0, "diced"},
	{"olive oil", []string{"tbsp"}, 1, 4, 0, ""},
	{"salt", []string{"tsp"}, 0.5, 2, 0, "to taste"},
	{"black pepper", []string{"tsp"}, 0.25, 1, 0, "freshly ground"},
	{"butter", []string{"tbsp", "g"}, 1, 4, dairy, ""},
	{"eggs", []string{""}, 1, 6, egg, ""},
	{"chicken thighs", []string{"g", "lb"}, 400, 900, meat | main, "boneless"},
	{"tomatoes", []string{"", "g"}, 2, 6, main, "chopped"},
	{"lemon juice", []string{"tbsp"}, 1, 4, 0, ""},
	{"all-purpose flour", []string{"cup", "g"}, 1, 3, gluten, ""},
	{"sugar", []string{"tbsp", "cup"}, 1, 3, 0, ""},
	{"ginger", []string{"tbsp"}, 1, 2, 0, "grated"},
	{"soy sauce", []string{"tbsp"}, 1, 4, gluten, ""},
	{"chicken breast", []string{"g"}, 300, 800, meat | main, ""},
	{"carrots", []string{""}, 1, 4, main, "sliced"},
	{"potatoes", []string{"g", ""}, 2, 6, main, "cubed"},
	{"rice", []string{"cup"}, 1, 3, main, ""},
	{"milk", []string{"cup", "ml"}, 1, 2, dairy, ""},
	{"parmesan", []string{"g", "cup"}, 30, 100, dairy, "grated"},
	{"cumin", []string{"tsp"}, 1, 2, 0, "ground"},
	{"paprika", []string{"tsp"}, 1, 2, 0, "smoked"},
	{"coriander", []string{"tsp"}, 1, 2, 0, "ground"},
	{"chickpeas", []string{"can", "g"}, 1, 2, main, "drained"},
	{"spinach", []string{"g", "cup"}, 100, 300, main, ""},
	{"mushrooms", []string{"g"}, 200, 500, main, "sliced"},
	{"ground beef", []string{"g", "lb"}, 400, 800, meat | main, ""},
	{"pasta", []string{"g"}, 250, 500, gluten | main, ""},
	{"coconut milk", []string{"can", "ml"}, 1, 2, 0, ""},
	{"bell pepper", []string{""}, 1, 3, main, "sliced"},
	{"cilantro", []string{"cup"}, 0.25, 1, 0, "chopped"},
	{"lime", []string{""}, 1, 2, 0, "juiced"},
	{"heavy cream", []string{"cup", "ml"}, 0.5, 1, dairy, ""},
	{"vegetable stock", []string{"cup", "ml"}, 1, 4, 0, ""},
	{"chicken stock", []string{"cup", "ml"}, 1, 4, meat, ""},
	{"red lentils", []string{"cup", "g"}, 1, 2, main, "rinsed"},
	{"salmon fillets", []string{""}, 2, 4, fish | main, ""},
	{"shrimp", []string{"g"}, 300, 600, fish | main, "peeled"},
	{"tofu", []string{"g"}, 300, 450, main, "pressed"},
	{"zucchini", []string{""}, 1, 3, main, "sliced"},
	{"eggplant", []string{""}, 1, 2, main, "cubed"},
	{"cheddar", []string{"g", "cup"}, 50, 200, dairy, "grated"},
	{"feta", []string{"g"}, 100, 200, dairy, "crumbled"},
	{"greek yogurt", []string{"cup", "g"}, 0.5, 1, dairy, ""},
	{"honey", []string{"tbsp"}, 1, 3, honey, ""},
	{"basil", []string{"cup"}, 0.25, 1, 0, "torn"},
	{"parsley", []string{"cup"}, 0.25, 1, 0, "chopped"},
	{"thyme", []string{"tsp"}, 1, 2, 0, "leaves"},
	{"rosemary", []string{"sprig"}, 1, 3, 0, ""},
	{"oregano", []string{"tsp"}, 1, 2, 0, "dried"},
	{"chili flakes", []string{"tsp"}, 0.5, 1, 0, ""},
	{"green chilies", []string{""}, 1, 3, 0, "chopped"},
	{"sesame oil", []string{"tsp", "tbsp"}, 1, 2, 0, ""},
	{"rice vinegar", []string{"tbsp"}, 1, 3, 0, ""},
	{"fish sauce", []string{"tbsp"}, 1, 3, fish, ""},
	{"pork shoulder", []string{"g", "lb"}, 600, 1500, meat | pork | main, "cubed"},
	{"bacon", []string{"slice", "g"}, 4, 8, meat | pork, "chopped"},
	{"chorizo", []string{"g"}, 100, 250, meat | pork | main, "sliced"},
	{"lamb shoulder", []string{"g"}, 600, 1200, meat | main, "cubed"},
	{"beef chuck", []string{"g"}, 600, 1200, meat | main, "cubed"},
	{"cod fillets", []string{""}, 2, 4, fish | main, ""},
	{"tuna", []string{"can", "g"}, 1, 2, fish | main, "drained"},
	{"white wine", []string{"cup", "ml"}, 0.5, 1, alcohol, ""},
	{"red wine", []string{"cup", "ml"}, 0.5, 2, alcohol, ""},
	{"bread", []string{"slice"}, 2, 6, gluten, ""},
	{"breadcrumbs", []string{"cup"}, 0.5, 1, gluten, ""},
	{"noodles", []string{"g"}, 200, 400, gluten | main, ""},
	{"rice noodles", []string{"g"}, 200, 300, main, ""},
	{"quinoa", []string{"cup"}, 1, 2, main, "rinsed"},
	{"black beans", []string{"can"}, 1, 2, main, "drained"},
	{"kidney beans", []string{"can"}, 1, 2, main, "drained"},
	{"sweet potatoes", []string{""}, 1, 3, main, "cubed"},
	{"cauliflower", []string{""}, 1, 1, main, "florets"},
	{"broccoli", []string{"g"}, 200, 500, main, "florets"},
	{"cabbage", []string{""}, 0.5, 1, main, "shredded"},
	{"kale", []string{"g"}, 100, 250, main, ""},
	{"leeks", []string{""}, 1, 3, main, "sliced"},
	{"celery", []string{"stalk"}, 1, 3, 0, "diced"},
	{"corn", []string{"cup"}, 1, 2, main, ""},
	{"peas", []string{"cup"}, 0.5, 2, 0, ""},
	{"avocado", []string{""}, 1, 2, main, "diced"},
	{"cucumber", []string{""}, 1, 2, main, "sliced"},
	{"spring onions", []string{""}, 2, 6, 0, "sliced"},
	{"mozzarella", []string{"g"}, 125, 250, dairy, "torn"},
	{"ricotta", []string{"g"}, 100, 250, dairy, ""},
	{"goat cheese", []string{"g"}, 100, 150, dairy, ""},
	{"walnuts", []string{"cup"}, 0.25, 1, 0, "toasted"},
	{"almonds", []string{"cup"}, 0.25, 1, 0, "sliced"},
	{"peanuts", []string{"cup"}, 0.25, 0.5, 0, "roasted"},
	{"tahini", []string{"tbsp"}, 2, 4, 0, ""},
	{"miso paste", []string{"tbsp"}, 1, 3, 0, ""},
	{"gochujang", []string{"tbsp"}, 1, 2, 0, ""},
	{"curry paste", []string{"tbsp"}, 2, 4, 0, ""},
	{"garam masala", []string{"tsp"}, 1, 2, 0, ""},
	{"turmeric", []string{"tsp"}, 0.5, 1, 0, "ground"},
	{"cinnamon", []string{"tsp"}, 0.5, 2, 0, "ground"},
	{"vanilla extract", []string{"tsp"}, 1, 2, 0, ""},
	{"baking powder", []string{"tsp"}, 1, 2, 0, ""},
	{"brown sugar", []string{"tbsp", "cup"}, 1, 3, 0, ""},
	{"dark chocolate", []string{"g"}, 100, 200, 0, "chopped"},
	{"bananas", []string{""}, 2, 4, main, "mashed"},
	{"apples", []string{""}, 2, 5, main, "sliced"},
	{"blueberries", []string{"cup"}, 1, 2, main, ""},
	{"strawberries", []string{"g"}, 200, 500, main, "hulled"},
	{"mango", []string{""}, 1, 2, main, "diced"},
	{"pineapple", []string{"cup"}, 1, 2, main, "cubed"},
	{"oats", []string{"cup"}, 1, 2, main, ""},
	{"maple syrup", []string{"tbsp"}, 1, 4, 0, ""},
	{"pumpkin", []string{"g"}, 400, 800, main, "cubed"},
	{"butternut squash", []string{""}, 1, 1, main, "cubed"},
	{"duck breasts", []string{""}, 2, 2, meat | main, ""},
	{"turkey mince", []string{"g"}, 400, 600, meat | main, ""},
	{"halloumi", []string{"g"}, 200, 250, dairy | main, "sliced"},
	{"paneer", []string{"g"}, 200, 400, dairy | main, "cubed"},
	{"mussels", []string{"kg"}, 1, 2, fish | main, "cleaned"},
	{"squid", []string{"g"}, 300, 500, fish | main, "sliced into rings"},
	{"anchovies", []string{""}, 4, 8, fish, ""},
	{"capers", []string{"tbsp"}, 1, 2, 0, ""},
	{"olives", []string{"cup"}, 0.5, 1, 0, "pitted"},
	{"preserved lemon", []string{""}, 1, 1, 0, "chopped"},
	{"saffron", []string{"pinch"}, 1, 1, 0, ""},
	{"sumac", []string{"tsp"}, 1, 2, 0, ""},
	{"harissa", []string{"tbsp"}, 1, 2, 0, ""},
	{"fennel", []string{""}, 1, 2, main, "sliced"},
	{"beetroot", []string{""}, 2, 4, main, "roasted"},
	{"asparagus", []string{"bunch"}, 1, 1, main, "trimmed"},
	{"tortillas", []string{""}, 4, 8, gluten, ""},
	{"pita bread", []string{""}, 2, 4, gluten, ""},
	{"puff pastry", []string{"sheet"}, 1, 2, gluten | dairy, ""},
	{"buttermilk", []string{"cup"}, 1, 2, dairy, ""},
	{"cream cheese", []string{"g"}, 100, 250, dairy, "softened"},
	{"sour cream", []string{"cup"}, 0.5, 1, dairy, ""},
	{"coconut flakes", []string{"cup"}, 0.25, 1, 0, ""},
	{"pistachios", []string{"cup"}, 0.25, 0.5, 0, "chopped"},
	{"pomegranate seeds", []string{"cup"}, 0.25, 0.5, 0, ""},
	{"kimchi", []string{"cup"}, 0.5, 1, fish, "chopped"},
	{"seaweed", []string{"sheet"}, 2, 4, 0, ""},
	{"bok choy", []string{""}, 2, 4, main, "halved"},
	{"bean sprouts", []string{"cup"}, 1, 2, 0, ""},
	{"lemongrass", []string{"stalk"}, 1, 2, 0, "bruised"},
	{"star anise", []string{""}, 1, 3, 0, ""},
	{"cardamom", []string{"pod"}, 3, 6, 0, "crushed"},
	{"cloves", []string{""}, 2, 4, 0, "whole"},
	{"bay leaves", []string{""}, 1, 3, 0, ""},
	{"dijon mustard", []string{"tsp", "tbsp"}, 1, 2, 0, ""},
	{"worcestershire sauce", []string{"tsp"}, 1, 2, fish, ""},
	{"balsamic vinegar", []string{"tbsp"}, 1, 2, 0, ""},
	{"pine nuts", []string{"tbsp"}, 2, 4, 0, "toasted"},
	{"polenta", []string{"cup"}, 1, 1, main, ""},
	{"couscous", []string{"cup"}, 1, 2, gluten | main, ""},
	{"bulgur", []string{"cup"}, 0.5, 1, gluten | main, ""},
	{"farro", []string{"cup"}, 1, 1, gluten | main, ""},
	{"venison", []string{"g"}, 500, 800, meat | main, ""},
	{"crab meat", []string{"g"}, 200, 300, fish | main, ""},
	{"scallops", []string{""}, 6, 12, fish | main, ""},
	{"rhubarb", []string{"g"}, 300, 500, main, "chopped"},
	{"figs", []string{""}, 4, 8, main, "halved"},
	{"plums", []string{""}, 4, 6, main, "halved"},
	{"pears", []string{""}, 2, 4, main, "sliced"},
	{"cherries", []string{"cup"}, 1, 2, main, "pitted"},
	{"lentils", []string{"cup"}, 1, 2, main, ""},
	{"tempeh", []string{"g"}, 200, 300, main, "sliced"},
	{"seitan", []string{"g"}, 200, 300, gluten | main, ""},
	{"okra", []string{"g"}, 200, 400, main, "sliced"},
	{"plantains", []string{""}, 2, 3, main, "sliced"},
	{"cassava", []string{"g"}, 400, 600, main, "peeled"},
	{"jackfruit", []string{"can"}, 1, 2, main, "drained"},
	{"sardines", []string{"can"}, 1, 2, fish | main, ""},
	{"mackerel", []string{""}, 2, 2, fish | main, ""},
	{"prawns", []string{"g"}, 300, 500, fish | main, ""},
	{"lobster tails", []string{""}, 2, 2, fish | main, ""},
	{"quail eggs", []string{""}, 6, 12, egg, ""},
	{"brie", []string{"g"}, 100, 200, dairy, ""},
	{"gruyere", []string{"g"}, 100, 200, dairy, "grated"},
	{"pecorino", []string{"g"}, 50, 100, dairy, "grated"},
	{"mascarpone", []string{"g"}, 250, 250, dairy, ""},
	{"saffron threads", []string{"pinch"}, 1, 1, 0, ""},
	{"matcha", []string{"tsp"}, 1, 2, 0, ""},
	{"espresso", []string{"shot"}, 1, 2, 0, ""},
}

var (
	cuisines = []string{"Italian", "Mexican", "Indian", "Chinese", "Japanese", "Thai", "French",
		"Greek", "Spanish", "Korean", "Moroccan", "Lebanese", "Vietnamese", "American", "British",
		"Ethiopian", "Peruvian", "Turkish", "Persian", "Caribbean", "German", "Brazilian",
		"Indonesian", "Georgian", "Filipino"}
	categories = []string{"Main course", "Side dish", "Dessert", "Breakfast", "Soup", "Salad",
		"Snack", "Appetizer", "Drink", "Bread", "Sauce"}
	dishes = []string{"curry", "stew", "salad", "soup", "tacos", "bowl", "pasta", "traybake", "pie",
		"skewers", "stir-fry", "risotto", "gratin", "fritters", "casserole", "wraps", "flatbread",
		"tart", "noodles", "burgers", "chili", "dumplings", "frittata", "sandwich", "pilaf",
		"hash", "bake", "kebabs", "cake", "muffins", "porridge", "smoothie", "galette", "stew pot",
		"quesadillas", "ramen", "tagine", "biryani", "paella", "shakshuka"}
	techniques = []string{"roasted", "grilled", "braised", "slow-cooked", "pan-fried", "baked",
		"steamed", "smoked", "charred", "poached", "crispy", "stuffed", "glazed", "sticky",
		"one-pot", "sheet-pan", "marinated", "spiced", "fried", "seared"}
	adjectives = []string{"easy", "classic", "spicy", "creamy", "smoky", "lemony", "herby", "quick",
		"weeknight", "hearty", "fresh", "golden", "garlicky", "zesty", "rustic", "sweet",
		"tangy", "cheesy", "simple", "fragrant", "summer", "winter", "homemade", "light"}
	tagPool = []string{"weeknight", "comfort food", "meal prep", "family", "spicy", "budget",
		"one pot", "make ahead", "party", "kid friendly", "healthy", "high protein", "brunch",
		"picnic", "holiday", "freezer friendly", "date night", "grilling", "batch cooking",
		"leftovers", "lunchbox", "summer", "winter", "autumn", "spring", "street food"}
	verbs = []string{"Heat", "Stir", "Add", "Simmer", "Whisk", "Toss", "Fold in", "Season",
		"Roast", "Sear", "Combine", "Drizzle", "Scatter", "Mix"}
)

// zipf draws indices in [0, n) with P(k) ∝ 1/(k+1)^s.
type zipf struct {
	cdf []float64
	r   *rand.Rand
}

func newZipf(r *rand.Rand, n int, s float64) *zipf {
	z := &zipf{cdf: make([]float64, n), r: r}
	sum := 0.0
	for k := 0; k < n; k++ {
		sum += 1 / math.Pow(float64(k+1), s)
		z.cdf[k] = sum
	}
	for k := range z.cdf {
		z.cdf[k] /= sum
	}
	return z
}

func (z *zipf) next() int {
	u := z.r.Float64()
	return sort.SearchFloat64s(z.cdf, u)
}

// epoch is when every synthetic recipe was "created", so output is stable.
var epoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

func title(s string) string {
	words := strings.Fields(s)
	for i, w := range words {
		words[i] = strings.ToUpper(w[:1]) + w[1:]
	}
	return strings.Join(words, " ")
}

func qty(r *rand.Rand, in ing) (float64, string) {
	q := in.lo + r.Float64()*(in.hi-in.lo)
	switch {
	case in.hi >= 50:
		q = math.Round(q/25) * 25
	case in.hi-in.lo < 1:
		q = math.Round(q*4) / 4
	default:
		q = math.Round(q*2) / 2
	}
	if q <= 0 {
		q = in.lo
	}
	unit := in.units[r.IntN(len(in.units))]
	switch {
	case unit == "g" && in.hi < 50:
		q = math.Max(25, math.Round(q*120/25)*25)
	case unit == "ml" && in.hi < 50:
		q = math.Max(50, math.Round(q*240/50)*50)
	case (unit == "lb" || unit == "kg") && in.hi >= 50:
		per := 450.0
		if unit == "kg" {
			per = 1000
		}
		q = math.Max(0.5, math.Round(q/per*2)/2)
	case unit != "" && unit != "cup" && unit != "tbsp" && unit != "tsp" && unit != "g" && unit != "ml":
		q = math.Max(1, math.Round(q))
	}
	return q, unit
}

func fmtQty(q float64) string {
	whole, frac := math.Modf(q)
	fr := map[float64]string{0.25: "1/4", 0.5: "1/2", 0.75: "3/4"}[frac]
	switch {
	case whole == 0 && fr != "":
		return fr
	case fr != "":
		return fmt.Sprintf("%d %s", int(whole), fr)
	case frac == 0:
		return strconv.Itoa(int(whole))
	}
	return strconv.FormatFloat(q, 'f', -1, 64)
}

// Generate returns n synthetic recipes, deterministic for seed. Their ids
// come from flavormonk.RecipeID with a synthetic source URL, so they are
// unique and never collide with the bundled recipes' ids.
func Generate(n int, seed uint64) []*flavormonk.Recipe {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	zIng := newZipf(r, len(pantry), 1.0)
	zCuisine := newZipf(r, len(cuisines), 0.8)
	zCat := newZipf(r, len(categories), 1.0)
	zDish := newZipf(r, len(dishes), 1.0)
	zTech := newZipf(r, len(techniques), 0.9)
	zAdj := newZipf(r, len(adjectives), 0.9)
	zTag := newZipf(r, len(tagPool), 1.0)
	var mains []int
	for i, in := range pantry {
		if in.kind&main != 0 {
			mains = append(mains, i)
		}
	}
	zMain := newZipf(r, len(mains), 1.0)

	out := make([]*flavormonk.Recipe, 0, n)
	seen := make(map[string]bool, n)
	for i := 0; len(out) < n; i++ {
		// The headline ingredient, then 4-11 more, Zipf by commonness.
		lead := mains[zMain.next()]
		picked := []int{lead}
		want := 5 + r.IntN(8)
		for tries := 0; len(picked) < want && tries < 200; tries++ {
			k := zIng.next()
			dup := false
			for _, p := range picked {
				dup = dup || p == k
			}
			if !dup {
				picked = append(picked, k)
			}
		}
		kinds := 0
		rec := &flavormonk.Recipe{}
		for _, k := range picked {
			in := pantry[k]
			kinds |= in.kind
			q, unit := qty(r, in)
			text := fmtQty(q)
			if unit != "" {
				text += " " + unit
			}
			text += " " + in.item
			if in.note != "" {
				text += ", " + in.note
			}
			rec.Ingredients = append(rec.Ingredients, flavormonk.Ingredient{
				Text: text, Quantity: q, Unit: unit, Item: in.item, Note: in.note})
		}
		second := pantry[picked[1+r.IntN(len(picked)-1)]].item

		cuisine := cuisines[zCuisine.next()]
		dish := dishes[zDish.next()]
		var name string
		switch r.IntN(5) {
		case 0:
			name = fmt.Sprintf("%s %s %s", techniques[zTech.next()], pantry[lead].item, dish)
		case 1:
			name = fmt.Sprintf("%s %s and %s %s", adjectives[zAdj.next()], pantry[lead].item, second, dish)
		case 2:
			name = fmt.Sprintf("%s %s %s", cuisine, pantry[lead].item, dish)
		case 3:
			name = fmt.Sprintf("%s %s with %s", techniques[zTech.next()], pantry[lead].item, second)
		default:
			name = fmt.Sprintf("%s %s %s %s", adjectives[zAdj.next()], techniques[zTech.next()], pantry[lead].item, dish)
		}
		rec.Name = title(name)
		src := fmt.Sprintf("https://synthetic.flavormonk.invalid/%d/%d", seed, i)
		rec.ID = flavormonk.RecipeID(rec.Name, src)
		if seen[rec.ID] {
			continue
		}
		seen[rec.ID] = true
		rec.SourceURL = src
		rec.Cuisine = cuisine
		rec.Category = categories[zCat.next()]
		rec.Author = "Flavor Monk Synthetic Kitchen"
		adj := adjectives[zAdj.next()]
		article := "A"
		if strings.ContainsRune("aeiou", rune(adj[0])) {
			article = "An"
		}
		rec.Description = fmt.Sprintf("%s %s %s %s built around %s and %s. %s",
			article, adj, strings.ToLower(cuisine), dish, pantry[lead].item, second,
			[]string{"Good for a busy evening.", "Even better the next day.", "Serve with crusty bread or rice.",
				"Scales up easily for a crowd.", "Bright, simple and satisfying.", ""}[r.IntN(6)])
		rec.Description = strings.TrimSpace(rec.Description)

		// Times: most recipes take 20-60 minutes, a long tail up to 4 hours.
		total := int(5 + math.Min(235, r.ExpFloat64()*40))
		total = (total + 4) / 5 * 5
		if total > 240 {
			total = 240
		}
		prep := max(5, min(total, (total*(20+r.IntN(40))/100+4)/5*5))
		rec.PrepMinutes, rec.CookMinutes, rec.TotalMinutes = prep, total-prep, total
		rec.Servings = 1 + r.IntN(8)
		rec.Yield = fmt.Sprintf("%d servings", rec.Servings)

		ntags := 1 + r.IntN(4)
		for len(rec.Tags) < ntags {
			t := tagPool[zTag.next()]
			dup := false
			for _, x := range rec.Tags {
				dup = dup || x == t
			}
			if !dup {
				rec.Tags = append(rec.Tags, t)
			}
		}
		if total <= 30 {
			rec.Tags = append(rec.Tags, "quick")
		}
		rec.Tags = append(rec.Tags, strings.Fields(dish)[0])

		if kinds&(meat|fish) == 0 {
			if kinds&(dairy|egg|honey) == 0 {
				rec.Diets = append(rec.Diets, flavormonk.DietVegan)
			}
			rec.Diets = append(rec.Diets, flavormonk.DietVegetarian)
		}
		if kinds&gluten == 0 {
			rec.Diets = append(rec.Diets, flavormonk.DietGlutenFree)
		}
		if kinds&dairy == 0 {
			rec.Diets = append(rec.Diets, flavormonk.DietDairyFree)
		}
		if kinds&(pork|alcohol) == 0 && r.IntN(3) > 0 {
			rec.Diets = append(rec.Diets, flavormonk.DietHalal)
		}
		if rec.Category == "Salad" || rec.Category == "Soup" || r.IntN(8) == 0 {
			rec.Diets = append(rec.Diets, flavormonk.DietLowCalorie)
		}

		nsteps := 3 + r.IntN(6)
		for s := 0; s < nsteps; s++ {
			a := rec.Ingredients[r.IntN(len(rec.Ingredients))].Item
			b := rec.Ingredients[r.IntN(len(rec.Ingredients))].Item
			step := fmt.Sprintf("%s the %s with the %s and cook for %d minutes, %s.",
				verbs[r.IntN(len(verbs))], a, b, 2+r.IntN(15),
				[]string{"stirring now and then", "until golden", "until tender", "until fragrant", "until thickened", "over medium heat"}[r.IntN(6)])
			if s == nsteps-1 {
				step = fmt.Sprintf("Taste, adjust the seasoning and serve the %s %s.", strings.ToLower(cuisine), dish)
			}
			rec.Steps = append(rec.Steps, flavormonk.Step{Text: step})
		}
		rec.CreatedAt = epoch.Add(time.Duration(i) * time.Minute)
		rec.UpdatedAt = rec.CreatedAt
		out = append(out, rec)
	}
	return out
}

// WordFreq is a word of a collection and how often it occurs.
type WordFreq struct {
	Word  string
	Count int
}

var stop = map[string]bool{"a": true, "an": true, "and": true, "the": true, "of": true, "with": true,
	"in": true, "on": true, "to": true, "for": true, "or": true, "at": true, "by": true, "from": true,
	"de": true, "la": true, "le": true, "el": true, "y": true, "recipe": true}

func words(s string) []string {
	f := strings.FieldsFunc(strings.ToLower(s), func(c rune) bool {
		return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c > 127)
	})
	out := f[:0]
	for _, w := range f {
		if len(w) >= 3 && !stop[w] {
			out = append(out, w)
		}
	}
	return out
}

// Vocabulary counts the words of the recipes' searchable fields (names,
// tags, cuisines, categories and ingredient items), most frequent first.
func Vocabulary(recipes []*flavormonk.Recipe) []WordFreq {
	n := map[string]int{}
	for _, r := range recipes {
		add := func(s string) {
			for _, w := range words(s) {
				n[w]++
			}
		}
		add(r.Name)
		add(r.Cuisine)
		add(r.Category)
		for _, t := range r.Tags {
			add(t)
		}
		for _, in := range r.Ingredients {
			if in.Item != "" {
				add(in.Item)
			}
		}
	}
	return sortFreq(n)
}

func sortFreq(n map[string]int) []WordFreq {
	out := make([]WordFreq, 0, len(n))
	for w, c := range n {
		out = append(out, WordFreq{w, c})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Word < out[j].Word
	})
	return out
}

// weighted draws from a frequency list in proportion to the frequencies
// (the collection's own, already Zipf-like, distribution).
type weighted struct {
	items []string
	cdf   []float64
	r     *rand.Rand
}

func newWeighted(r *rand.Rand, fs []WordFreq) *weighted {
	w := &weighted{r: r}
	sum := 0.0
	for _, f := range fs {
		sum += float64(f.Count)
		w.items = append(w.items, f.Word)
		w.cdf = append(w.cdf, sum)
	}
	for i := range w.cdf {
		w.cdf[i] /= sum
	}
	return w
}

func (w *weighted) next() string {
	i := sort.SearchFloat64s(w.cdf, w.r.Float64())
	return w.items[min(i, len(w.items)-1)]
}

// Queries returns n search queries as URL query strings for
// GET /api/v1/recipes, drawn from the recipes' vocabulary in proportion to
// the words' frequencies in the collection (so Zipf-like): 1-3 words of
// text, and every third query with one or two filters (include or exclude
// an ingredient, a tag, max_minutes, a diet). Popular queries repeat, as
// they do in real traffic; a few thousand draws hold well over a thousand
// distinct queries.
func Queries(recipes []*flavormonk.Recipe, n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	text := newWeighted(r, Vocabulary(recipes))
	ingN, tagN := map[string]int{}, map[string]int{}
	for _, rec := range recipes {
		for _, in := range rec.Ingredients {
			if in.Item != "" {
				ingN[strings.ToLower(in.Item)]++
			}
		}
		for _, t := range rec.Tags {
			tagN[strings.ToLower(t)]++
		}
		if rec.Cuisine != "" {
			tagN[strings.ToLower(rec.Cuisine)]++
		}
	}
	ings := newWeighted(r, sortFreq(ingN))
	tags := newWeighted(r, sortFreq(tagN))
	minutes := []int{15, 20, 30, 45, 60, 90, 120}

	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		v := url.Values{}
		nw := 1
		switch x := r.IntN(100); {
		case x >= 85:
			nw = 3
		case x >= 50:
			nw = 2
		}
		var ws []string
		for len(ws) < nw {
			w := text.next()
			dup := false
			for _, x := range ws {
				dup = dup || x == w
			}
			if !dup {
				ws = append(ws, w)
			}
		}
		v.Set("q", strings.Join(ws, " "))
		if i%3 == 0 {
			nf := 1 + r.IntN(2)
			for f := 0; f < nf; f++ {
				switch r.IntN(5) {
				case 0:
					v.Add("include", ings.next())
				case 1:
					v.Add("exclude", ings.next())
				case 2:
					v.Add("tag", tags.next())
				case 3:
					v.Set("max_minutes", strconv.Itoa(minutes[r.IntN(len(minutes))]))
				default:
					v.Set("diet", string(flavormonk.Diets[r.IntN(len(flavormonk.Diets))]))
				}
			}
			if r.IntN(6) == 0 {
				v.Del("q") // browsing by filters alone: facets over every match
			}
		}
		out = append(out, v.Encode())
	}
	return out
}
