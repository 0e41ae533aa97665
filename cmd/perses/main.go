// Command perses is the Perses server for OpenShift AI: upstream Perses v0.54.0 with the
// product's capabilities (extension.Capabilities) set up on it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/openshift-ai/observability/extension"
	"github.com/openshift-ai/observability/extension/config"
	"github.com/openshift-ai/observability/extension/store"
	"github.com/perses/common/app"
	"github.com/perses/perses/pkg/extend"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/sirupsen/logrus"
)

const banner = `
 Perses for OpenShift AI  %s
 (upstream Perses v0.54.0 with the OpenShift AI extension)

`

func main() {
	if len(os.Args) > 1 && os.Args[1] == "migrate" {
		os.Exit(migrate(os.Args[2:]))
	}
	app.InitFlag()
	configFile := flag.String("config", "", "Path to the YAML configuration (upstream Perses keys plus the openshift_ai section). PERSES_* and the documented variables override it.")
	pprof := flag.Bool("pprof", false, "Enable pprof")
	flag.Parse()

	conf, err := config.Load(*configFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "perses: configuration %q: %v\n", *configFile, err)
		os.Exit(2)
	}

	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	extend.RegisterMetrics(registry)

	h, err := extension.NewServer(conf, extension.Options{EnablePprof: *pprof, Banner: banner, Registry: registry}, extension.Capabilities)
	if err != nil {
		logrus.Fatal(err)
	}
	defer func() {
		if err := h.Deps.Persistence().GetPersesDAO().Close(); err != nil {
			logrus.WithError(err).Error("unable to close the connection to the database")
		}
	}()
	h.Runner.Start()
}

// migrate is `perses migrate [--config file] up|down|version`: the operator's handle on
// the PostgreSQL schema (the server also migrates up at start, under a lock).
func migrate(args []string) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	configFile := fs.String("config", "", "Path to the YAML configuration; DATABASE_URL overrides openshift_ai.postgres.url.")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: perses migrate [--config file] up|down|version")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	conf, err := config.Load(*configFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "perses: configuration %q: %v\n", *configFile, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	v, err := store.Migrate(ctx, conf.OpenShiftAI.Postgres, fs.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "perses:", err)
		return 1
	}
	fmt.Println(v)
	return 0
}
