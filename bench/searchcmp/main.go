package main

import (
	_ "github.com/blevesearch/bleve/v2"
	_ "github.com/flavormonk/flavormonk/app/search"
)

func main() {}
