package replicate

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"unicode/utf8"
)

// maxEvent caps one Server-Sent Event (one output token is a few bytes).
const maxEvent = 1 << 20

var (
	errEventTooLarge = errors.New("stream event larger than 1 MiB")
	errInvalidUTF8   = errors.New("stream event is not valid UTF-8")
)

// event is one Server-Sent Event.
type event struct {
	Type, ID, Data string
}

// sseReader decodes a text/event-stream as the HTML standard defines it:
// lines end in LF, CRLF or CR; a blank line ends an event; "data" lines
// join with LF; lines starting with a colon are comments. Replicate's
// stream sends output, error, done (and logs) events.
//
// replicate-go has a decoder, but its StreamPrediction reconnects without
// Last-Event-ID when a stream is cut, so the answer would repeat from its
// start, and it cannot tell a cut stream from a finished one.
type sseReader struct {
	r       *bufio.Reader
	pending bool // a line of an event not yet dispatched was read
	lastCR  bool // the previous line ended in CR: a following LF is part of it
	line    []byte
	data    []byte
}

func newSSEReader(r io.Reader) *sseReader {
	return &sseReader{r: bufio.NewReaderSize(r, 4096)}
}

// readLine returns the next line without its terminator, at most maxEvent
// bytes. io.EOF: the stream ended (a last line with no terminator is
// dropped, as the standard says). The line is valid until the next call.
func (d *sseReader) readLine() ([]byte, error) {
	line := d.line[:0]
	defer func() { d.line = line[:0] }()
	for {
		b, err := d.r.ReadByte()
		if err != nil {
			return nil, err
		}
		if d.lastCR {
			d.lastCR = false
			if b == '\n' {
				continue
			}
		}
		switch b {
		case '\n':
			return line, nil
		case '\r':
			d.lastCR = true
			return line, nil
		}
		if len(line) >= maxEvent {
			return nil, errEventTooLarge
		}
		line = append(line, b)
	}
}

// Next returns the next event. At the end of the stream it returns io.EOF,
// or io.ErrUnexpectedEOF when the stream ended inside an event.
func (d *sseReader) Next() (event, error) {
	var ev event
	data := d.data[:0]
	defer func() {
		if cap(data) <= 64<<10 {
			d.data = data[:0]
		}
	}()
	hasData := false
	for {
		line, err := d.readLine()
		if err != nil {
			if errors.Is(err, io.EOF) && d.pending {
				return event{}, io.ErrUnexpectedEOF
			}
			return event{}, err
		}
		if len(line) == 0 {
			if !d.pending {
				continue
			}
			d.pending = false
			if !hasData && ev.Type == "" {
				continue
			}
			if !utf8.Valid(data) {
				return event{}, errInvalidUTF8
			}
			ev.Data = string(data)
			if ev.Type == "" {
				ev.Type = "message"
			}
			return ev, nil
		}
		if line[0] == ':' {
			continue // a comment (keep-alive)
		}
		d.pending = true
		field, value, found := bytes.Cut(line, []byte{':'})
		if found && len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
		switch string(field) {
		case "event":
			if string(value) == "output" {
				ev.Type = "output"
			} else {
				ev.Type = string(value)
			}
		case "data":
			if hasData {
				data = append(data, '\n')
			}
			if len(data)+len(value) > maxEvent {
				return event{}, errEventTooLarge
			}
			data = append(data, value...)
			hasData = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				ev.ID = string(value)
			}
		}
	}
}
