// Command dirhash prints the Go module hash ("h1:...") of a folder, as the Go
// command computes it for a module zip, so the unpacked upstream copy can be
// checked against the checksum database's record before the seam touches it.
//
// usage: dirhash <dir> <module@version>
package main

import (
	"fmt"
	"os"

	"golang.org/x/mod/sumdb/dirhash"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: dirhash <dir> <module@version>")
		os.Exit(2)
	}
	h, err := dirhash.HashDir(os.Args[1], os.Args[2], dirhash.Hash1)
	if err != nil {
		fmt.Fprintln(os.Stderr, "dirhash:", err)
		os.Exit(1)
	}
	fmt.Println(h)
}
