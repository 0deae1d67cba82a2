package web

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/ingredient"
	"github.com/flavormonk/flavormonk/app/internal/jsonbody"
	"github.com/flavormonk/flavormonk/app/internal/urlparam"
	"github.com/flavormonk/flavormonk/app/outage"
	"github.com/flavormonk/flavormonk/app/search"
)

func (s *Server) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok", "version": flavormonk.BuildVersion()})
}

// readyz reports each dependency; 503 only when the store is unreachable
// (or the index is not loaded yet).
func (s *Server) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"store": "ok", "search_index": "ok"}
	for name, b := range s.cfg.Degradable {
		checks[name] = "ok"
		if err := b.Ping(ctx); err != nil {
			checks[name] = "degraded"
		}
	}
	if s.assistant != nil {
		// A provider cooling down after failures degrades the assistant;
		// the others (and the offline answer) still serve.
		checks["inference"] = "ok"
		if s.assistant.Degraded() {
			checks["inference"] = "degraded"
		}
	}
	status := http.StatusOK
	if err := s.store.Ping(ctx); err != nil {
		checks["store"] = "down"
		status = http.StatusServiceUnavailable
		if !errors.Is(s.outage.Check(ctx, err), outage.ErrStoreDown) {
			s.log.WarnContext(ctx, "readiness: store unreachable", "err", err)
		}
	} else {
		s.outage.OK(ctx)
	}
	if !s.ready.Load() {
		checks["search_index"] = "loading"
		status = http.StatusServiceUnavailable
	}
	overall := "ok"
	if status != http.StatusOK {
		overall = "unavailable"
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.JSON(status, map[string]any{"status": overall, "checks": checks, "version": flavormonk.BuildVersion(),
		"recipes": s.index.Len(), "index_revision": s.index.Revision()})
}

func (s *Server) apiSearch(c echo.Context) error {
	q, err := search.ParseQuery(c.QueryParams(), s.cfg.SearchMaxResults)
	if err != nil {
		return err
	}
	if s.encoder != nil {
		body, err := s.encoder.SearchJSON(c.Request().Context(), q)
		if err != nil {
			return err
		}
		return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, body)
	}
	res, err := s.searcher.Search(c.Request().Context(), q)
	if err != nil {
		return err
	}
	buf := jsonBufs.Get().(*[]byte)
	defer jsonBufs.Put(buf)
	*buf = append(res.AppendJSON((*buf)[:0]), '\n')
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, *buf)
}

// jsonBufs recycles the buffers search results are encoded into.
var jsonBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// RecipeResponse is a recipe as the API returns it, optionally scaled.
type RecipeResponse struct {
	*flavormonk.Recipe
	URL          string `json:"url"`
	ScaledTo     int    `json:"scaled_to,omitempty"`
	ScaledFactor string `json:"scale_factor,omitempty"`
}

func (s *Server) loadRecipe(c echo.Context) (*flavormonk.Recipe, error) {
	id := c.Param("id")
	if !flavormonk.ValidID(id) {
		return nil, flavormonk.FieldErrorf(flavormonk.ENOTFOUND, "id", "no recipe has the id %q", truncate(id, 60))
	}
	r, err := s.store.Recipe(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	return r, nil
}

func (s *Server) apiRecipe(c echo.Context) error {
	r, err := s.loadRecipe(c)
	if err != nil {
		return err
	}
	servings, err := urlparam.Int(c.QueryParams(), "servings", 1, 1000, "servings")
	if err != nil {
		return err
	}
	out := RecipeResponse{Recipe: r, URL: s.recipeURL(r.ID)}
	if servings > 0 {
		scaled, err := ingredient.ScaleRecipe(r, servings)
		if err != nil {
			return err
		}
		out.Recipe, out.ScaledTo = scaled, servings
	}
	return c.JSON(http.StatusOK, out)
}

func (s *Server) recipeURL(id string) string {
	return s.cfg.BaseURL + "/recipes/" + id
}

func (s *Server) apiPantry(c echo.Context) error {
	var q search.PantryQuery
	var err error
	if c.Request().Method == http.MethodPost {
		q, err = s.decodePantry(c)
	} else {
		q, err = search.ParsePantry(c.QueryParams(), s.cfg.SearchMaxResults)
	}
	if err != nil {
		return err
	}
	res, err := s.index.Pantry(q)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, res)
}

func (s *Server) decodePantry(c echo.Context) (search.PantryQuery, error) {
	var q search.PantryQuery
	if ct := c.Request().Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		return q, flavormonk.Errorf(flavormonk.EINVALID, "send the pantry query as JSON with Content-Type: application/json")
	}
	var b search.PantryJSON
	dec := json.NewDecoder(c.Request().Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return q, flavormonk.Errorf(flavormonk.ETOOLARGE, "the request body is larger than %d bytes", mbe.Limit)
		}
		return q, flavormonk.Errorf(flavormonk.EINVALID, "the body is not a valid pantry query: %v", jsonbody.Describe(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return q, flavormonk.Errorf(flavormonk.EINVALID, "the body must hold exactly one JSON object")
	}
	return b.Query(s.cfg.SearchMaxResults)
}
