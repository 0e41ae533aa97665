package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/openshift-ai/observability/extension/config"
	"github.com/sirupsen/logrus"
)

// Channel is the notification channel every write notifies, with the kind as payload.
const Channel = "perses_changes"

// KeyChannel is the channel every write notifies with the row's key as payload: kind,
// project and name separated by keySeparator (migration 002).
const KeyChannel = "perses_keys"

const keySeparator = "\x1f"

// AllKinds is the Kind of the Change a Listener reports whenever it (re)starts listening:
// notifications sent while it was not listening are lost, so anything may have changed.
const AllKinds = ""

// Change is one report of a Listener.
type Change struct {
	// Kind changed (from Channel; AllKinds with Resync).
	Kind string
	// Project and Name of the row that changed, when the report is a key (KeyChannel).
	Project, Name string
	// Key says the report names one row; otherwise it names a kind, or everything.
	Key bool
	// Resync: the listener just (re)started listening and may have missed writes.
	Resync bool
}

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
	onChange func(Change)
	onDeaf   func()
}

// NewListener returns a listener that calls onChange for every write twice: once with
// its kind (several writes of one kind in one transaction report it once) and once with
// its key; and with a Resync change each time it starts listening. onChange runs on the
// listener's goroutine: keep it short.
func NewListener(cfg config.Postgres, onChange func(Change)) *Listener {
	return &Listener{cfg: cfg, onChange: onChange}
}

// OnDeaf sets f to be called whenever the listener stops hearing writes (its connection
// broke): until the next Resync, whoever follows the changes must not trust a cache.
func (l *Listener) OnDeaf(f func()) *Listener {
	l.onDeaf = f
	return l
}

// Run listens until ctx ends, then returns ctx's error. It never gives up on PostgreSQL.
func (l *Listener) Run(ctx context.Context) error {
	backoff := listenBackoffMin
	for {
		started := time.Now()
		err := l.listen(ctx)
		if l.onDeaf != nil {
			l.onDeaf()
		}
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
	for _, ch := range []string{Channel, KeyChannel} {
		if _, err := conn.Exec(connectCtx, "LISTEN "+ch); err != nil {
			return storeErr("listen", err)
		}
	}
	l.onChange(Change{Kind: AllKinds, Resync: true})
	for {
		// Wake up now and then to ping: a connection whose peer vanished without a
		// reset would otherwise wait forever, deaf to every write.
		waitCtx, cancelWait := context.WithTimeout(ctx, listenPingInterval)
		n, err := conn.WaitForNotification(waitCtx)
		cancelWait()
		switch {
		case err == nil:
			l.onChange(parse(n.Channel, n.Payload))
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

// parse reads a notification of Channel or KeyChannel.
func parse(channel, payload string) Change {
	if channel != KeyChannel {
		return Change{Kind: payload}
	}
	parts := strings.SplitN(payload, keySeparator, 3)
	if len(parts) != 3 {
		// Not a key: treat it as a change of everything of that kind.
		return Change{Kind: parts[0]}
	}
	return Change{Kind: parts[0], Project: parts[1], Name: parts[2], Key: true}
}
