package sqlite

import (
	"context"
	"fmt"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/storekit"
)

var _ flavormonk.UsageStore = (*Store)(nil)

// The metering statements, prepared once on the writer.
const (
	sqlScopeRow   = `INSERT INTO usage_scopes (scope, period) VALUES (?, ?) ON CONFLICT DO NOTHING`
	sqlScopeState = `SELECT spent,
		(SELECT coalesce(sum(amount), 0) FROM usage_holds
		  WHERE scope = ? AND period = ? AND settled_at IS NULL AND expires_at > ?)
		FROM usage_scopes WHERE scope = ? AND period = ?`
	sqlHoldInsert  = `INSERT INTO usage_holds (id, scope, period, amount, expires_at) VALUES (?, ?, ?, ?, ?)`
	sqlHoldsSettle = `UPDATE usage_holds SET settled_at = ? WHERE id = ? AND settled_at IS NULL RETURNING scope, period`
	sqlHoldsCount  = `SELECT count(*) FROM usage_holds WHERE id = ?`
	sqlScopeSpend  = `UPDATE usage_scopes SET spent = spent + ? WHERE scope = ? AND period = ?`
	sqlEventInsert = `INSERT INTO usage_events (reservation, at, user_id, visitor, provider, model,
		tokens_in, tokens_out, seconds, cost_micros, estimated, cache_hit) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

var usageStatements = []string{sqlScopeRow, sqlScopeState, sqlHoldInsert, sqlHoldsSettle, sqlHoldsCount, sqlScopeSpend, sqlEventInsert}

// Reserve sets the holds aside, all or none. The writer's transactions
// begin IMMEDIATE, so reservations (of this process or another on the same
// file) run one at a time: the check and the insert cannot interleave.
func (s *Store) Reserve(ctx context.Context, id string, holds []flavormonk.Hold, expires time.Time) error {
	now := s.now()
	hs, err := storekit.CheckReserve(id, holds, expires, now)
	if err != nil {
		return err
	}
	s.prepare(ctx, usageStatements...)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: reserve: %w", err)
	}
	defer tx.Rollback()
	for _, h := range hs {
		var spent, reserved int64
		if _, err := s.exec(ctx, tx, sqlScopeRow, h.Scope, h.Period); err != nil {
			return fmt.Errorf("sqlite: reserve: %w", err)
		}
		err := s.queryRow(ctx, tx, sqlScopeState,
			h.Scope, h.Period, now.UnixMicro(), h.Scope, h.Period).Scan(&spent, &reserved)
		if err != nil {
			return fmt.Errorf("sqlite: reserve: %w", err)
		}
		if !storekit.Fits(h, spent, reserved) {
			return h.Exhausted()
		}
	}
	for _, h := range hs {
		_, err := s.exec(ctx, tx, sqlHoldInsert,
			id, h.Scope, h.Period, h.Amount, micros(expires))
		if isUnique(err) {
			return flavormonk.FieldErrorf(flavormonk.ECONFLICT, "id", "reservation %q exists already", id)
		}
		if err != nil {
			return fmt.Errorf("sqlite: reserve: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: reserve: %w", err)
	}
	return nil
}

// Settle releases reservation id and records its events.
func (s *Store) Settle(ctx context.Context, id string, events []flavormonk.UsageEvent) error {
	now := s.now()
	evs, total, err := storekit.CheckSettle(id, events, now)
	if err != nil {
		return err
	}
	s.prepare(ctx, usageStatements...)
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: settle: %w", err)
	}
	defer tx.Rollback()
	rows, err := s.query(ctx, tx, sqlHoldsSettle, now.UnixMicro(), id)
	if err != nil {
		return fmt.Errorf("sqlite: settle: %w", err)
	}
	type sp struct{ scope, period string }
	var scopes []sp
	for rows.Next() {
		var x sp
		if err := rows.Scan(&x.scope, &x.period); err != nil {
			rows.Close()
			return fmt.Errorf("sqlite: settle: %w", err)
		}
		scopes = append(scopes, x)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("sqlite: settle: %w", err)
	}
	if len(scopes) == 0 {
		var n int
		if err := s.queryRow(ctx, tx, sqlHoldsCount, id).Scan(&n); err != nil {
			return fmt.Errorf("sqlite: settle: %w", err)
		}
		if n == 0 {
			return flavormonk.FieldErrorf(flavormonk.ENOTFOUND, "id", "no reservation %q", id)
		}
		return nil // settled before
	}
	if total > 0 {
		for _, x := range scopes {
			if _, err := s.exec(ctx, tx, sqlScopeSpend, total, x.scope, x.period); err != nil {
				return fmt.Errorf("sqlite: settle: %w", err)
			}
		}
	}
	if len(evs) > 0 {
		for _, e := range evs {
			if _, err := s.exec(ctx, tx, sqlEventInsert, id, e.At.UnixMicro(), e.UserID, e.Visitor, e.Provider, e.Model,
				e.InputTokens, e.OutputTokens, e.Seconds, e.CostMicros, e.Estimated, e.CacheHit); err != nil {
				return fmt.Errorf("sqlite: settle: %w", err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: settle: %w", err)
	}
	return nil
}

// Spent returns a scope's spent and live reserved amounts in a period.
func (s *Store) Spent(ctx context.Context, scope, period string) (spent, reserved int64, err error) {
	err = s.r.QueryRowContext(ctx, `SELECT
		coalesce((SELECT spent FROM usage_scopes WHERE scope = ? AND period = ?), 0),
		(SELECT coalesce(sum(amount), 0) FROM usage_holds WHERE scope = ? AND period = ? AND settled_at IS NULL AND expires_at > ?)`,
		scope, period, scope, period, s.now().UnixMicro()).Scan(&spent, &reserved)
	if err != nil {
		return 0, 0, fmt.Errorf("sqlite: spent: %w", err)
	}
	return spent, reserved, nil
}

const usPerDay = int64(24 * time.Hour / time.Microsecond)

// UsageReport sums the ledger by UTC day, user or visitor, provider and model.
func (s *Store) UsageReport(ctx context.Context, from, to time.Time) ([]flavormonk.UsageRow, error) {
	if err := storekit.CheckReport(from, to); err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT at / ? AS day, user_id, visitor, provider, model, count(*),
		sum(tokens_in), sum(tokens_out), sum(seconds), sum(cost_micros), sum(estimated), sum(cache_hit)
		FROM usage_events WHERE at >= ? AND at < ?
		GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`, usPerDay, reportMicros(from), reportMicros(to))
	if err != nil {
		return nil, fmt.Errorf("sqlite: usage report: %w", err)
	}
	defer rows.Close()
	out := []flavormonk.UsageRow{}
	for rows.Next() {
		var r flavormonk.UsageRow
		var day int64
		if err := rows.Scan(&day, &r.UserID, &r.Visitor, &r.Provider, &r.Model, &r.Events,
			&r.InputTokens, &r.OutputTokens, &r.Seconds, &r.CostMicros, &r.Estimated, &r.CacheHits); err != nil {
			return nil, fmt.Errorf("sqlite: usage report: %w", err)
		}
		r.Day = fromMicros(day * usPerDay)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: usage report: %w", err)
	}
	return out, nil
}

// reportMicros clamps a bound to the range events can have (from 1970 on).
func reportMicros(t time.Time) int64 {
	if t.Unix() < 0 {
		return 0
	}
	return t.UnixMicro()
}

// PruneUsage removes the records of reservations that expired before before.
func (s *Store) PruneUsage(ctx context.Context, before time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, flavormonk.FieldErrorf(flavormonk.EINVALID, "limit", "limit must be positive")
	}
	res, err := s.w.ExecContext(ctx, `DELETE FROM usage_holds WHERE (id, scope, period) IN
		(SELECT id, scope, period FROM usage_holds WHERE expires_at < ? LIMIT ?)`, reportMicros(before), limit)
	if err != nil {
		return 0, fmt.Errorf("sqlite: prune usage: %w", err)
	}
	return res.RowsAffected()
}
