package identity

import (
	"fmt"
	"net"
	"net/http"
	"slices"
)

// HeaderDevelopmentMode is set on every response in development mode, so that no one
// mistakes the server for a protected one.
const HeaderDevelopmentMode = "X-Perses-Development-Mode"

// Development recognises every request as the same developer, credentials or not.
type Development struct{ user User }

// NewDevelopment returns the development authenticator for name and groups.
func NewDevelopment(name string, groups []string) *Development {
	return &Development{user: User{Name: name, Groups: slices.Clone(groups), Method: MethodDevelopment}}
}

// Authenticate returns the developer.
func (d *Development) Authenticate(_ *http.Request) (*User, error) {
	u := d.user
	u.Groups = slices.Clone(d.user.Groups)
	return &u, nil
}

// CheckListenAddress refuses development mode on an address reachable from elsewhere
// (anything but loopback: ":8080" listens on every interface) unless forced.
func CheckListenAddress(addr string, force bool) error {
	if force {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("development mode: listen address %q: %w", addr, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("development mode refused: the server would listen on %q, which is not a loopback address, "+
		"and every request would act as the developer; listen on 127.0.0.1 (--web.listen-address 127.0.0.1:8080) "+
		"or set openshift_ai.identity.development.force: true", addr)
}
