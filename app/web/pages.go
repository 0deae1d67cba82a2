package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/ingredient"
	"github.com/flavormonk/flavormonk/app/internal/urlparam"
	"github.com/flavormonk/flavormonk/app/search"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

type pages struct {
	byName map[string]*template.Template
}

var funcs = template.FuncMap{
	"minutes": func(m int) string {
		switch {
		case m <= 0:
			return ""
		case m < 60:
			return fmt.Sprintf("%d min", m)
		case m%60 == 0:
			return fmt.Sprintf("%d h", m/60)
		default:
			return fmt.Sprintf("%d h %d min", m/60, m%60)
		}
	},
	"percent": func(f float64) int { return int(f*100 + 0.5) },
	"join":    strings.Join,
	"title": func(s string) string {
		if s == "" {
			return s
		}
		return strings.ToUpper(s[:1]) + s[1:]
	},
}

func loadPages() (*pages, error) {
	p := &pages{byName: map[string]*template.Template{}}
	for _, name := range []string{"search", "recipe", "pantry", "about", "error"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: template %s: %w", name, err)
		}
		p.byName[name] = t
	}
	return p, nil
}

// formPages are the pages whose empty form is shown, with the message,
// when the query string is refused before the page's handler runs (too
// long, malformed).
var formPages = map[string]struct {
	page  string
	blank func(s *Server, c echo.Context) map[string]any
}{
	"/":       {"search", func(*Server, echo.Context) map[string]any { return searchData(nil, search.Query{}) }},
	"/pantry": {"pantry", func(*Server, echo.Context) map[string]any { return pantryData(nil) }},
	"/ask":    {"ask", (*Server).askData},
}

func (s *Server) render(c echo.Context, status int, name string, data map[string]any) error {
	if fp, ok := formPages[c.Path()]; ok && name == "error" && status < 500 {
		d := fp.blank(s, c)
		d["Error"] = data["Error"]
		name, data = fp.page, d
	}
	t := s.pages.byName[name]
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		return fmt.Errorf("render %s: %w", name, err)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

func staticHandler() echo.HandlerFunc {
	sub, _ := fs.Sub(staticFS, "static")
	h := http.StripPrefix("/static/", http.FileServer(http.FS(sub)))
	return func(c echo.Context) error {
		c.Response().Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}

// facetLink is a facet value with the URL that toggles it as a filter.
type facetLink struct {
	Value  string
	Count  int
	URL    string
	Active bool
}

func toggleURL(base url.Values, key, value string) string {
	v := url.Values{}
	for k, vs := range base {
		if k == "cursor" {
			continue
		}
		v[k] = append([]string(nil), vs...)
	}
	active := false
	var kept []string
	for _, x := range urlparam.List(base, key) {
		if strings.EqualFold(x, value) {
			active = true
			continue
		}
		kept = append(kept, x)
	}
	if !active {
		kept = append(kept, value)
	}
	v.Del(key)
	if len(kept) > 0 {
		v.Set(key, strings.Join(kept, ","))
	}
	return "/?" + v.Encode()
}

func searchData(params url.Values, q search.Query) map[string]any {
	return map[string]any{"Title": "Find a recipe", "Params": params, "Query": q, "Diets": flavormonk.Diets,
		"Times": []int{15, 20, 30, 45, 60, 90}, "SelectedDiets": map[flavormonk.Diet]bool{}}
}

func pantryData(params url.Values) map[string]any {
	return map[string]any{"Title": "What can I make?", "Have": shown(strings.Join(urlparam.List(params, "have"), ", ")),
		"MaxMissing": shown(params.Get("max_missing")), "Diets": flavormonk.Diets}
}

func (s *Server) searchPage(c echo.Context) error {
	params := c.QueryParams()
	q, err := search.ParseQuery(params, s.cfg.SearchMaxResults)
	data := searchData(params, q)
	if err != nil {
		return s.pageError(c, "search", err, data)
	}
	if q.Limit == 0 {
		q.Limit = 24
	}
	res, err := s.searcher.Search(c.Request().Context(), q)
	if err != nil {
		return s.pageError(c, "search", err, data)
	}
	data["Result"] = res
	var tags []facetLink
	selected := map[string]bool{}
	for _, t := range q.Tags {
		selected[strings.ToLower(t)] = true
	}
	for _, f := range res.Facets["tag"] {
		tags = append(tags, facetLink{f.Value, f.Count, toggleURL(params, "tag", f.Value), selected[f.Value]})
	}
	var cuisines []facetLink
	for _, f := range res.Facets["cuisine"] {
		cuisines = append(cuisines, facetLink{f.Value, f.Count, toggleURL(params, "tag", f.Value), selected[strings.ToLower(f.Value)]})
	}
	data["Tags"], data["Cuisines"] = tags, cuisines
	selDiet := map[flavormonk.Diet]bool{}
	for _, d := range q.Diets {
		selDiet[d] = true
	}
	data["SelectedDiets"] = selDiet
	if res.NextCursor != "" {
		data["NextURL"] = "/?" + withParam(params, "cursor", res.NextCursor).Encode()
	}
	return s.render(c, http.StatusOK, "search", data)
}

func (s *Server) recipePage(c echo.Context) error {
	r, err := s.loadRecipe(c)
	if err != nil {
		return err
	}
	servings, serr := urlparam.Int(c.QueryParams(), "servings", 1, 1000, "servings")
	scaled := r // a recipe that does not say how many it serves is shown as it is
	if servings > 0 && r.Servings > 0 {
		if scaled, err = ingredient.ScaleRecipe(r, servings); err != nil {
			return err
		}
	}
	lines := make([]ingredient.Line, len(scaled.Ingredients))
	for i, ing := range scaled.Ingredients {
		lines[i] = ingredient.Split(ing)
	}
	data := map[string]any{
		"Title": r.Name, "Recipe": r, "Ingredients": lines, "Groups": r.StepGroups(),
		"Servings": scaled.Servings, "BaseServings": r.Servings, "Minutes": r.Minutes(),
	}
	if serr != nil {
		return s.pageError(c, "recipe", serr, data)
	}
	return s.render(c, http.StatusOK, "recipe", data)
}

func (s *Server) pantryPage(c echo.Context) error {
	params := c.QueryParams()
	data := pantryData(params)
	if len(urlparam.List(params, "have")) == 0 {
		// An empty form, unless the other parameters are already wrong:
		// they are checked as they would be with something in the pantry.
		if _, err := search.ParsePantry(withParam(params, "have", "water"), s.cfg.SearchMaxResults); err != nil {
			return s.pageError(c, "pantry", err, data)
		}
		if params.Get("cursor") != "" {
			// A cursor continues the pantry search it came from; without
			// ingredients there is none.
			return s.pageError(c, "pantry", flavormonk.FieldErrorf(flavormonk.EINVALID, "cursor",
				"belongs to a pantry search with ingredients; start again without a cursor"), data)
		}
		return s.render(c, http.StatusOK, "pantry", data)
	}
	q, err := search.ParsePantry(params, s.cfg.SearchMaxResults)
	if err != nil {
		return s.pageError(c, "pantry", err, data)
	}
	res, err := s.index.Pantry(q)
	if err != nil {
		return s.pageError(c, "pantry", err, data)
	}
	data["Result"] = res
	if res.NextCursor != "" {
		data["NextURL"] = "/pantry?" + withParam(params, "cursor", res.NextCursor).Encode()
	}
	return s.render(c, http.StatusOK, "pantry", data)
}

// pageError shows a page's form again with what is wrong in the query
// string, under the error's status, as the API would answer it. Server-side
// failures go to the error handler instead.
func (s *Server) pageError(c echo.Context, page string, err error, data map[string]any) error {
	status, detail := resolve(err)
	if status >= 500 {
		return err
	}
	c.Set("error_code", detail.Code)
	detail.Message = shown(detail.Message)
	data["Error"] = detail
	if q, ok := data["Query"].(search.Query); ok {
		q.Text = shown(q.Text)
		data["Query"] = q
	}
	return s.render(c, status, page, data)
}

// shown is text from the request as a page may show it back: valid UTF-8
// (html/template escapes markup, not broken encodings).
func shown(s string) string { return strings.ToValidUTF8(s, "\uFFFD") }

func (s *Server) aboutPage(c echo.Context) error {
	return s.render(c, http.StatusOK, "about", map[string]any{"Title": "About", "Version": flavormonk.BuildVersion(),
		"Recipes": strconv.Itoa(s.index.Len())})
}

// withParam is a copy of params with name set to value; params is left
// as it is.
func withParam(params url.Values, name, value string) url.Values {
	v := make(url.Values, len(params)+1)
	for k, vs := range params {
		v[k] = vs
	}
	v.Set(name, value)
	return v
}
