// Command ruleslint validates every rule file in the given directories
// (default rules/): JSON syntax, unknown keys, ops and value types,
// regexes, thresholds and id uniqueness. It prints every problem and
// exits 1 if there is any, so a broken rule fails the pipeline instead of
// the running service.
//
//	go run ./cmd/ruleslint [dir ...]
package main

import (
	"fmt"
	"io"
	"os"

	"example.com/platform/services/threat-detection/internal/rules"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	dirs := args
	if len(dirs) == 0 {
		dirs = []string{"rules"}
	}
	code := 0
	seen := map[string]string{}
	for _, dir := range dirs {
		rs, err := rules.LoadDir(dir)
		if err != nil {
			if probs, ok := err.(rules.Problems); ok {
				for _, p := range probs {
					fmt.Fprintln(stderr, p)
				}
			} else {
				fmt.Fprintln(stderr, err)
			}
			code = 1
			continue
		}
		for _, r := range rs {
			if prev, dup := seen[r.ID]; dup {
				fmt.Fprintf(stderr, "%s: rule %s: id already used in %s\n", dir, r.ID, prev)
				code = 1
			}
			seen[r.ID] = dir
		}
		fmt.Fprintf(stdout, "%s: %d rules ok\n", dir, len(rs))
	}
	return code
}
