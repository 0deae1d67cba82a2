module github.com/flavormonk/flavormonk/infra

go 1.26
