package main

import "github.com/pulumi/pulumi/sdk/v3/go/common/resource"

func keyOf(s string) resource.PropertyKey { return resource.PropertyKey(s) }
