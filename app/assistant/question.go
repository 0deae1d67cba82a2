package assistant

import (
	"regexp"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/textnorm"
)

// MaxQuestionBytes bounds a question; longer ones are refused, not cut.
const MaxQuestionBytes = 2000

// CheckQuestion validates a question as a user typed it and returns it
// trimmed. Errors are EINVALID or ETOOLARGE naming the "question" member.
func CheckQuestion(q string) (string, error) {
	if !utf8.ValidString(q) {
		return "", flavormonk.FieldErrorf(flavormonk.EINVALID, "question", "is not valid UTF-8 text")
	}
	q = strings.TrimSpace(q)
	if q == "" {
		return "", flavormonk.FieldErrorf(flavormonk.EINVALID, "question", "is empty; ask something about cooking, e.g. \"how long do I roast a chicken?\"")
	}
	if len(q) > MaxQuestionBytes {
		return "", flavormonk.FieldErrorf(flavormonk.ETOOLARGE, "question", "is %d bytes; keep it under %d", len(q), MaxQuestionBytes)
	}
	for _, r := range q {
		if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
			return "", flavormonk.FieldErrorf(flavormonk.EINVALID, "question", "contains control characters")
		}
	}
	return q, nil
}

// Normalize folds a question for the exact-match cache: case, accents,
// punctuation and spacing do not make two questions different.
func Normalize(q string) string {
	q = strings.ToLower(textnorm.FoldAccents(q))
	var b strings.Builder
	space := false
	for _, r := range q {
		if unicode.IsLetter(r) || unicode.IsNumber(r) { // IsNumber: "½" counts
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			b.WriteRune(r)
			continue
		}
		space = true
	}
	return b.String()
}

// questionWords are dropped from the retrieval query: they say what kind of
// question it is, not which recipe it is about.
var questionWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`what whats which how who when where why can could should would will do does did
		i me my we us you your am are is was be been make makes making cook cooking cooked recipe recipes dish dishes
		something some any anything good best easy quick idea ideas want like need please tell give show find suggest
		have has had got with without instead of for to the a an and or but in on at from into this that these those
		it its long much many take takes time minutes hours people person persons servings serving guests portions
		substitute substitution replace replacement swap use using out dont don't t s there here about more less than
		ignore previous instructions system prompt reveal`) {
		m[w] = true
	}
	return m
}()

// retrievalText keeps the words of q that can match a recipe.
func retrievalText(q string) string {
	var out []string
	for _, w := range strings.FieldsFunc(strings.ToLower(q), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '\'' }) {
		w = strings.Trim(w, "'")
		if w == "" || questionWords[w] || isNumber(w) {
			continue
		}
		out = append(out, w)
	}
	return strings.Join(out, " ")
}

func isNumber(w string) bool {
	_, err := strconv.Atoi(w)
	return err == nil
}

var (
	servingsRe = regexp.MustCompile(`(?i)\b(?:for|feed|feeds|serve|serves|serving)\s+(\d{1,3})\b|\b(\d{1,3})\s+(?:people|persons|servings|portions|guests|adults)\b`)
	scaleWords = map[string]float64{"double": 2, "triple": 3, "halve": 0.5, "half": 0.5}
	timingRe   = regexp.MustCompile(`(?i)\bhow long\b|\bhow much time\b|\bminutes?\b|\bhours?\b|\btime\b|\bquick(ly)?\b|\bahead\b`)
	swapRe     = regexp.MustCompile(`(?i)\b(substitut\w*|instead of|replace\w*|swap\w*|(?:do not|don't|dont) have|out of|without)\b`)
)

// intent is what the question asks of the recipe data.
type intent struct {
	servings int     // target servings, 0: not asked
	factor   float64 // double/half without a number, 0: not asked
	timing   bool
	swap     bool
}

func parseIntent(q string) intent {
	var in intent
	if m := servingsRe.FindStringSubmatch(q); m != nil {
		n, _ := strconv.Atoi(m[1] + m[2])
		if n > 0 && n <= 200 {
			in.servings = n
		}
	}
	if in.servings == 0 {
		for _, w := range strings.Fields(strings.ToLower(q)) {
			if f, ok := scaleWords[strings.Trim(w, ".,!?")]; ok {
				in.factor = f
				break
			}
		}
	}
	in.timing = timingRe.MatchString(q)
	in.swap = swapRe.MatchString(q)
	return in
}

// substitutions are common kitchen swaps: our own list, for the offline
// answer and as hints in the model's prompt.
var substitutions = map[string][]string{
	"butter":          {"olive oil (about ¾ the amount)", "coconut oil", "margarine"},
	"egg":             {"1 tbsp ground flaxseed with 3 tbsp water per egg", "¼ cup apple sauce per egg (in baking)"},
	"milk":            {"oat milk", "soy milk", "water with a little butter"},
	"buttermilk":      {"milk with 1 tbsp lemon juice or vinegar per cup, rested 5 minutes"},
	"cream":           {"evaporated milk", "full-fat coconut milk", "milk with melted butter"},
	"heavy cream":     {"evaporated milk", "full-fat coconut milk"},
	"sour cream":      {"plain yogurt", "crème fraîche"},
	"yogurt":          {"sour cream", "buttermilk"},
	"lemon juice":     {"lime juice", "white wine vinegar (half the amount)"},
	"lime juice":      {"lemon juice"},
	"white wine":      {"stock with a splash of vinegar", "dry vermouth"},
	"red wine":        {"stock with a splash of red wine vinegar"},
	"soy sauce":       {"tamari (gluten-free)", "coconut aminos"},
	"honey":           {"maple syrup", "agave syrup"},
	"sugar":           {"honey (¾ the amount, less liquid)", "maple syrup"},
	"brown sugar":     {"white sugar with a little molasses", "coconut sugar"},
	"flour":           {"a gluten-free flour blend", "cornstarch (half the amount, for thickening)"},
	"cornstarch":      {"arrowroot", "flour (twice the amount)"},
	"garlic":          {"⅛ tsp garlic powder per clove", "shallot"},
	"onion":           {"shallot", "leek", "1 tbsp onion powder per onion"},
	"shallot":         {"onion (a little less)", "the white of spring onions"},
	"fresh herbs":     {"dried herbs (a third of the amount)"},
	"cilantro":        {"flat-leaf parsley", "basil"},
	"parsley":         {"cilantro", "chervil"},
	"basil":           {"oregano", "spinach with a little mint"},
	"chicken stock":   {"vegetable stock", "water with a stock cube"},
	"beef stock":      {"mushroom stock", "vegetable stock with soy sauce"},
	"vegetable stock": {"water with a stock cube", "chicken stock"},
	"parmesan":        {"pecorino", "grana padano", "nutritional yeast (vegan)"},
	"rice vinegar":    {"apple cider vinegar", "white wine vinegar"},
	"breadcrumbs":     {"crushed crackers", "rolled oats", "panko"},
	"chicken":         {"turkey", "firm tofu", "chickpeas"},
	"beef":            {"lamb", "mushrooms", "lentils"},
	"pork":            {"chicken thighs", "turkey"},
	"mayonnaise":      {"Greek yogurt", "sour cream"},
	"tomato paste":    {"passata reduced by half", "ketchup (sweeter)"},
	"cumin":           {"ground coriander", "caraway"},
	"paprika":         {"chilli powder (less)", "cayenne (a pinch)"},
	"rice":            {"quinoa", "bulgur", "cauliflower rice"},
	"pasta":           {"rice noodles", "courgette ribbons"},
}

// swapFor finds the recipe ingredient the question wants replaced.
func swapFor(q string, r *flavormonk.Recipe) *flavormonk.Substitution {
	lq := " " + strings.ToLower(textnorm.FoldAccents(q)) + " "
	best := ""
	for item := range substitutions {
		if len(item) <= len(best) || !strings.Contains(lq, item) && !strings.Contains(lq, item+"s") {
			continue
		}
		best = item
	}
	if best == "" {
		// An ingredient of the recipe named in the question, even one we
		// know no swap for.
		for _, ing := range r.Ingredients {
			it := strings.ToLower(ing.Item)
			if it != "" && len(it) > len(best) && strings.Contains(lq, it) {
				best = it
			}
		}
		if best == "" {
			return nil
		}
	}
	return &flavormonk.Substitution{Item: best, Options: substitutions[best]}
}
