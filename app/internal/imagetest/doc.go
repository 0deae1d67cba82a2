// Package imagetest tests the container image path (scripts/image.sh, which
// `make image` runs): it builds the app's image with ko against an in-process
// OCI registry and a base image assembled locally, then checks what was pushed.
// It has only tests; they are skipped with -short.
package imagetest
