package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/openshift-ai/observability/extension/config"
	"github.com/sirupsen/logrus"
)

// Channel is the notification channel every write notifies, with the kind as payload.
const Channel = "perses_changes"

// AllKinds is passed to a Listener's callback whenever it (re)starts listening:
// notifications sent while it was not listening are lost, so anything may have changed.
const AllKinds = ""

// Backoff between reconnection attempts of a Listener.
const (
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 5 * time.Second
	// listenPingInterval is how long a listening connection stays silent before it is
	// checked.
	listenPingInterval = 30 * time.Second
)

// Listener receives the kinds written by any replica (or anyone) on its own connection,
// outside the pool, and reconnects with backoff when that connection breaks.
type Listener struct {
	cfg      config.Postgres
	onChange func(kind string)
}

// NewListener returns a listener that calls onChange with the kind of every write
// (several writes of one kind in one transaction call it once), and with AllKinds each
// time it starts listening. onChange runs on the listener's goroutine: keep it short.
func NewListener(cfg config.Postgres, onChange func(kind string)) *Listener {
	return &Listener{cfg: cfg, onChange: onChange}
}

// Run listens until ctx ends, then returns ctx's error. It never gives up on PostgreSQL.
func (l *Listener) Run(ctx context.Context) error {
	backoff := listenBackoffMin
	for {
		started := time.Now()
		err := l.listen(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Since(started) > listenBackoffMax {
			backoff = listenBackoffMin // it was up for a while: this is a new outage
		}
		logrus.WithError(err).Warnf("postgres listener on %s: listening again in %s", l.cfg.URL.Redacted(), backoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, listenBackoffMax)
	}
}

// listen connects, listens and delivers notifications until the connection or ctx ends.
func (l *Listener) listen(ctx context.Context) error {
	cc, err := connConfig(l.cfg)
	if err != nil {
		return err
	}
	// The connection waits for notifications for as long as it lives: no statement limit.
	cc.RuntimeParams["statement_timeout"] = "0"
	if cc.RuntimeParams["application_name"] == applicationName {
		cc.RuntimeParams["application_name"] = applicationName + "-listener"
	}
	connect, _ := timeouts(l.cfg)
	connectCtx, cancel := context.WithTimeout(ctx, connect)
	defer cancel()
	conn, err := pgx.ConnectConfig(connectCtx, cc)
	if err != nil {
		return storeErr("listen", err)
	}
	defer conn.Close(context.Background()) //nolint:errcheck
	if _, err := conn.Exec(connectCtx, "LISTEN "+Channel); err != nil {
		return storeErr("listen", err)
	}
	l.onChange(AllKinds)
	for {
		// Wake up now and then to ping: a connection whose peer vanished without a
		// reset would otherwise wait forever, deaf to every write.
		waitCtx, cancelWait := context.WithTimeout(ctx, listenPingInterval)
		n, err := conn.WaitForNotification(waitCtx)
		cancelWait()
		switch {
		case err == nil:
			l.onChange(n.Payload)
		case ctx.Err() == nil && pgconn.Timeout(err):
			pingCtx, cancelPing := context.WithTimeout(ctx, connect)
			err = conn.Ping(pingCtx)
			cancelPing()
			if err != nil {
				return storeErr("ping listening connection", err)
			}
		default:
			return storeErr("wait for notification", err)
		}
	}
}
