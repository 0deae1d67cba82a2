package web

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/account"
	"github.com/flavormonk/flavormonk/app/internal/jsonbody"
)

// favouritePage confirms adding or removing a favourite (the recipe page
// links here; the form carries the CSRF token).
func (s *Server) favouritePage(c echo.Context) error {
	u := currentUser(c)
	if u == nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	r, err := s.loadRecipe(c)
	if err != nil {
		return err
	}
	f, err := s.acc.Favourite(c.Request().Context(), u.ID, r.ID)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, "account", map[string]any{"Title": "Favourite", "User": u, "Confirm": r, "IsFavourite": f != nil, "CSRF": s.csrfToken(c)})
}

func (s *Server) toggleFavourite(c echo.Context) error {
	u := currentUser(c)
	if u == nil {
		return c.Redirect(http.StatusSeeOther, "/login")
	}
	id := c.Param("id")
	if err := s.acc.ToggleFavourite(c.Request().Context(), u.ID, id); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/recipes/"+url.PathEscape(id))
}

func (s *Server) apiFavourites(c echo.Context) error {
	favs, err := s.acc.Favourites(c.Request().Context(), currentUser(c).ID)
	if err != nil {
		return err
	}
	if favs == nil {
		favs = []*flavormonk.Favourite{}
	}
	return c.JSON(http.StatusOK, map[string]any{"favourites": favs})
}

func (s *Server) apiSetFavourite(c echo.Context) error {
	var body struct {
		Note string `json:"note"`
	}
	if req := c.Request(); req.ContentLength != 0 {
		// Only JSON: Echo's binder would also take XML or a form and, finding
		// no note in it, set an empty one over the user's.
		if mt, _, _ := mime.ParseMediaType(req.Header.Get("Content-Type")); mt != "application/json" {
			return flavormonk.Errorf(flavormonk.EUNSUPPORTED, "send the note as JSON with Content-Type: application/json, like {\"note\": \"…\"}")
		}
		dec := json.NewDecoder(req.Body)
		dec.DisallowUnknownFields()
		if err := dec.Decode(&body); err != nil && !errors.Is(err, io.EOF) {
			return flavormonk.Errorf(flavormonk.EINVALID, "the body must be JSON like {\"note\": \"…\"}: %s", jsonbody.Brief(err))
		}
		if jsonbody.Trailing(dec) {
			return flavormonk.Errorf(flavormonk.EINVALID, "the body has data after the JSON object")
		}
	}
	if err := account.CheckNote(body.Note); err != nil {
		return err
	}
	f, err := s.acc.SetFavourite(c.Request().Context(), currentUser(c).ID, c.Param("id"), body.Note)
	if err != nil {
		return err
	}
	if f == nil {
		return c.NoContent(http.StatusNoContent)
	}
	return c.JSON(http.StatusOK, f)
}

func (s *Server) apiDeleteFavourite(c echo.Context) error {
	if err := s.acc.DeleteFavourite(c.Request().Context(), currentUser(c).ID, c.Param("id")); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
