package postgres

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Unreachable reports whether err, returned by this package, means the
// database cannot be reached at the moment (it is down, restarting, or the
// network to it is) rather than a query or data problem: callers answer
// such errors with "try again" instead of an internal error. Only errors
// that pgx or the connection itself made are recognised, so an error from
// another dependency never reads as a database outage. A timeout waiting
// for a busy pool is overload, not an outage, and is not counted.
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true // refused, unresolvable, or the server refused the session
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "57P01", "57P02", "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
			return true
		}
		return strings.HasPrefix(pe.Code, "08") // connection_exception
	}
	var nf *netFault
	return errors.As(err, &nf) || errors.Is(err, pgconn.ErrConnClosed)
}

// netFault marks a failure of a database connection's socket (reset,
// broken pipe), which pgx passes up unwrapped: marked, it cannot be
// mistaken for another dependency's network error.
type netFault struct{ err error }

func (e *netFault) Error() string { return e.err.Error() }
func (e *netFault) Unwrap() error { return e.err }

// faultConn marks its socket's failures as netFaults. Timeouts are left
// alone (pgx cancels queries through deadlines). An end of stream is a
// fault too: in Postgres' protocol the server never closes first without
// an error message, so a close without one (a pooler, a failover, a proxy
// or a cut network) is the connection failing; it is passed on as an
// unexpected EOF so that no reader mistakes it for a clean end.
type faultConn struct{ net.Conn }

func (c faultConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	return n, mark(err)
}

func (c faultConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	return n, mark(err)
}

func mark(err error) error {
	if err == nil {
		return nil
	}
	if err == io.EOF {
		return &netFault{io.ErrUnexpectedEOF}
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return err
	}
	return &netFault{err}
}

// markFaults makes dial's connections faultConns.
func markFaults(dial pgconn.DialFunc) pgconn.DialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return faultConn{c}, nil
	}
}
