package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/puddle/v2"
)

// ErrUnavailable is wrapped by every error that says PostgreSQL could not be reached or
// did not answer in time (refused or lost connection, connect or statement timeout,
// server shutting down, too many connections). Callers map it to 503; any other error is
// the request's or the data's fault.
var ErrUnavailable = errors.New("PostgreSQL is unavailable")

// storeErr names the operation and classifies err; nil stays nil.
func storeErr(op string, err error) error {
	if err == nil {
		return nil
	}
	if unavailable(err) {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, op, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// Server error codes that mean "not now" rather than "not this": connection exceptions
// (class 08), insufficient resources (class 53), operator intervention (class 57:
// shutdown, crash recovery, cannot connect now, statement timeout).
var unavailableClasses = []string{"08", "53", "57"}

func unavailable(err error) bool {
	if errors.Is(err, ErrUnavailable) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		for _, class := range unavailableClasses {
			if strings.HasPrefix(pgErr.Code, class) {
				return true
			}
		}
		return false
	}
	return errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, puddle.ErrClosedPool) ||
		pgconn.Timeout(err) ||
		connectionLost(err)
}

// connectionLost says the connection failed or broke: nothing the statement did is
// known to have happened unless the statement committed before the break.
func connectionLost(err error) bool {
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		// The server ended the session (terminated, shutting down, crashed) or the
		// connection failed.
		return strings.HasPrefix(pgErr.Code, "08") || pgErr.Code == "57P01" || pgErr.Code == "57P02"
	}
	return errors.As(err, &connectErr) ||
		errors.As(err, &netErr) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) ||
		pgconn.SafeToRetry(err)
}
