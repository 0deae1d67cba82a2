package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/flavormonk/flavormonk/app/usage"
)

// adminUsage reports assistant usage between two days (default: this UTC
// month) by day, by provider and model, and the top spenders.
func (s *Server) adminUsage(c echo.Context) error {
	now := s.now()
	from, to, err := usage.ReportRange(now, c.QueryParam("from"), c.QueryParam("to"))
	if err != nil {
		// The form again, on this month, with what was wrong.
		from, to = usage.DefaultRange(now)
		return s.formError(c, "admin_usage", err, map[string]any{"Title": "Assistant usage", "User": currentUser(c),
			"From": from.Format("2006-01-02"), "To": to.Format("2006-01-02"), "Total": &usage.Sum{Key: "total"}})
	}
	rows, err := s.store.UsageReport(c.Request().Context(), from, to)
	if err != nil {
		return err
	}
	sum := usage.Summarize(rows)
	return s.render(c, http.StatusOK, "admin_usage", map[string]any{
		"Title": "Assistant usage", "User": currentUser(c), "From": from.Format("2006-01-02"), "To": to.Format("2006-01-02"),
		"Total": sum.Total, "Days": sum.Days, "Models": sum.Models, "Who": sum.Who,
	})
}
