// Command hello stands in for cmd/flavormonk while developing the image test.
package main

import (
	"fmt"
	"os"

	flavormonk "github.com/flavormonk/flavormonk/app"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "version" {
		fmt.Println(flavormonk.BuildVersion())
		return
	}
	fmt.Println("hello")
}
