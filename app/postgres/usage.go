package postgres

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	flavormonk "github.com/flavormonk/flavormonk/app"
	"github.com/flavormonk/flavormonk/app/internal/storekit"
	"github.com/jackc/pgx/v5"
)

var _ flavormonk.UsageStore = (*Store)(nil)

// Reserve sets the holds aside, all or none, in one READ COMMITTED
// transaction. For each hold, in scope order, an upsert takes the scope
// row's lock; the following statement then sees every reservation and
// settlement committed by those who held the lock before, so the check
// spent + reserved + amount <= limit and the insert of the hold cannot
// interleave with another reservation of the same scope. Locking in one
// order means two reservations never wait on each other in a cycle.
func (s *Store) Reserve(ctx context.Context, id string, holds []flavormonk.Hold, expires time.Time) error {
	now := s.now()
	hs, err := storekit.CheckReserve(id, holds, expires, now)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		for _, h := range hs {
			var spent, reserved int64
			if err := tx.QueryRow(ctx, `INSERT INTO usage_scopes AS u (scope, period) VALUES ($1, $2)
				ON CONFLICT (scope, period) DO UPDATE SET spent = u.spent RETURNING spent`, h.Scope, h.Period).Scan(&spent); err != nil {
				return fmt.Errorf("postgres: reserve: %w", err)
			}
			if err := tx.QueryRow(ctx, `SELECT coalesce(sum(amount), 0)::bigint FROM usage_holds
				WHERE scope = $1 AND period = $2 AND settled_at IS NULL AND expires_at > $3`, h.Scope, h.Period, now).Scan(&reserved); err != nil {
				return fmt.Errorf("postgres: reserve: %w", err)
			}
			if !storekit.Fits(h, spent, reserved) {
				return h.Exhausted()
			}
		}
		for _, h := range hs {
			_, err := tx.Exec(ctx, `INSERT INTO usage_holds (id, scope, period, amount, expires_at) VALUES ($1, $2, $3, $4, $5)`,
				id, h.Scope, h.Period, h.Amount, ts(expires))
			if isUnique(err) {
				return flavormonk.FieldErrorf(flavormonk.ECONFLICT, "id", "reservation %q exists already", id)
			}
			if err != nil {
				return fmt.Errorf("postgres: reserve: %w", err)
			}
		}
		return nil
	})
}

// Settle releases reservation id and records its events. Marking the holds
// settled locks them first, so a second Settle of the same id waits and
// then finds nothing left to settle.
func (s *Store) Settle(ctx context.Context, id string, events []flavormonk.UsageEvent) error {
	now := s.now()
	evs, total, err := storekit.CheckSettle(id, events, now)
	if err != nil {
		return err
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `UPDATE usage_holds SET settled_at = $1 WHERE id = $2 AND settled_at IS NULL
			RETURNING scope, period`, now, id)
		if err != nil {
			return fmt.Errorf("postgres: settle: %w", err)
		}
		type sp struct{ Scope, Period string }
		scopes, err := pgx.CollectRows(rows, pgx.RowToStructByPos[sp])
		if err != nil {
			return fmt.Errorf("postgres: settle: %w", err)
		}
		if len(scopes) == 0 {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM usage_holds WHERE id = $1)`, id).Scan(&exists); err != nil {
				return fmt.Errorf("postgres: settle: %w", err)
			}
			if !exists {
				return flavormonk.FieldErrorf(flavormonk.ENOTFOUND, "id", "no reservation %q", id)
			}
			return nil // settled before
		}
		if total > 0 {
			// One scope at a time in scope order, as Reserve locks them.
			slices.SortFunc(scopes, func(a, b sp) int {
				return cmp.Or(strings.Compare(a.Scope, b.Scope), strings.Compare(a.Period, b.Period))
			})
			for _, x := range scopes {
				if _, err := tx.Exec(ctx, `UPDATE usage_scopes SET spent = spent + $1 WHERE scope = $2 AND period = $3`, total, x.Scope, x.Period); err != nil {
					return fmt.Errorf("postgres: settle: %w", err)
				}
			}
		}
		if len(evs) > 0 {
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"usage_events"},
				[]string{"reservation", "at", "user_id", "visitor", "provider", "model", "tokens_in", "tokens_out", "seconds", "cost_micros", "estimated", "cache_hit"},
				pgx.CopyFromSlice(len(evs), func(i int) ([]any, error) {
					e := evs[i]
					return []any{id, e.At, e.UserID, e.Visitor, e.Provider, e.Model, int32(e.InputTokens), int32(e.OutputTokens),
						e.Seconds, e.CostMicros, e.Estimated, e.CacheHit}, nil
				}))
			if err != nil {
				return fmt.Errorf("postgres: settle: %w", err)
			}
		}
		return nil
	})
}

// Spent returns a scope's spent and live reserved amounts in a period.
func (s *Store) Spent(ctx context.Context, scope, period string) (spent, reserved int64, err error) {
	err = s.pool.QueryRow(ctx, `SELECT
		coalesce((SELECT spent FROM usage_scopes WHERE scope = $1 AND period = $2), 0),
		(SELECT coalesce(sum(amount), 0)::bigint FROM usage_holds WHERE scope = $1 AND period = $2 AND settled_at IS NULL AND expires_at > $3)`,
		scope, period, s.now()).Scan(&spent, &reserved)
	if err != nil {
		return 0, 0, fmt.Errorf("postgres: spent: %w", err)
	}
	return spent, reserved, nil
}

// UsageReport sums the ledger by UTC day, user or visitor, provider and model.
func (s *Store) UsageReport(ctx context.Context, from, to time.Time) ([]flavormonk.UsageRow, error) {
	if err := storekit.CheckReport(from, to); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT date_trunc('day', at AT TIME ZONE 'UTC') AS day, user_id, visitor, provider, model,
		count(*), sum(tokens_in)::bigint, sum(tokens_out)::bigint, sum(seconds), sum(cost_micros)::bigint,
		count(*) FILTER (WHERE estimated), count(*) FILTER (WHERE cache_hit)
		FROM usage_events WHERE at >= $1 AND at < $2
		GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, visitor COLLATE "C", provider COLLATE "C", model COLLATE "C"`, from, to)
	if err != nil {
		return nil, fmt.Errorf("postgres: usage report: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (flavormonk.UsageRow, error) {
		var r flavormonk.UsageRow
		var day time.Time
		err := row.Scan(&day, &r.UserID, &r.Visitor, &r.Provider, &r.Model, &r.Events,
			&r.InputTokens, &r.OutputTokens, &r.Seconds, &r.CostMicros, &r.Estimated, &r.CacheHits)
		r.Day = time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, time.UTC)
		return r, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: usage report: %w", err)
	}
	if out == nil {
		out = []flavormonk.UsageRow{}
	}
	return out, nil
}

// PruneUsage removes the records of reservations that expired before before.
func (s *Store) PruneUsage(ctx context.Context, before time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, flavormonk.FieldErrorf(flavormonk.EINVALID, "limit", "limit must be positive")
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM usage_holds WHERE (id, scope, period) IN
		(SELECT id, scope, period FROM usage_holds WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, before, limit)
	if err != nil {
		return 0, fmt.Errorf("postgres: prune usage: %w", err)
	}
	return tag.RowsAffected(), nil
}
