// Seam file (github.com/openshift-ai/observability): stands in for upstream's generated
// ui/embed.go. The build puts the stock UI, gzip-compressed file by file, in app/dist;
// prometheus/common/assets serves each file from its .gz twin.

package ui

import "embed"

//go:embed app/dist
var embedFS embed.FS
