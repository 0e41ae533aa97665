// Command perses is the Perses server for OpenShift AI: upstream Perses v0.54.0 with the
// product's capabilities (extension.Capabilities) set up on it.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/openshift-ai/observability/extension"
	"github.com/openshift-ai/observability/extension/config"
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
