module github.com/attn-go/attn

go 1.26.0

require (
	github.com/ardanlabs/jinja v1.8.0
	golang.org/x/image v0.48.0
	golang.org/x/text v0.44.0
)
