package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"

	"github.com/agentpay/agentpay/protocol"
)

// Body limits, units last.
const (
	// singleBodyBytesMax bounds the body of a single-object endpoint.
	singleBodyBytesMax = protocol.SingleRequestBodyBytesMax
	// batchBodyBytesMax bounds the body of a batch endpoint.
	batchBodyBytesMax = protocol.RequestBodyBytesMax
)

// readBody reads a request body of at most limit bytes after checking its
// Content-Type. limit 0 means the route takes no body.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if limit == 0 {
		var one [1]byte
		if n, _ := io.ReadFull(r.Body, one[:]); n > 0 || r.ContentLength > 0 {
			return nil, invalid(codeBodyNotAllowed, "", "%s %s takes no request body", r.Method, r.URL.Path)
		}
		return nil, nil
	}
	if err := checkContentType(r); err != nil {
		return nil, err
	}
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return nil, tooLarge(limit)
		}
		return nil, invalid(codeBodyUnreadable, "", "reading the request body: %v", err)
	}
	return body, nil
}

func tooLarge(limit int64) *apiError {
	return newError(protocol.ErrorRequestTooLarge, codeBodyTooLarge, "",
		"the request body exceeds %d bytes, the limit of this endpoint", limit)
}

// checkContentType requires application/json (a charset parameter, if any,
// must be utf-8).
func checkContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil && mt == "application/json" {
		if cs, ok := params["charset"]; !ok || strings.EqualFold(cs, "utf-8") {
			return nil
		}
	}
	if ct == "" {
		ct = "none"
	}
	return newError(protocol.ErrorUnsupportedMedia, codeUnsupportedContentType, "",
		"request bodies must be Content-Type application/json (got %s)", ct)
}

// decodeJSON decodes body into v: exactly one JSON value, no unknown
// fields. Errors are *apiError whose param is prefixed with path (e.g.
// "transfers[2]."), so a caller decoding one element of a batch gets the
// element's full path.
func decodeJSON(body []byte, v any, path string) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, path)
	}
	if _, err := dec.Token(); err != io.EOF {
		return invalid(codeTrailingData, strings.TrimSuffix(path, "."),
			"the request body must hold exactly one JSON value; found more after byte %d", dec.InputOffset())
	}
	return checkKeys(body, reflect.TypeOf(v), path)
}

// jsonError turns an encoding/json error into a client error.
func jsonError(err error, path string) error {
	if e, ok := errors.AsType[*json.SyntaxError](err); ok {
		return invalid(codeInvalidJSON, "", "malformed JSON at byte %d: %v", e.Offset, e)
	}
	if e, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		field := strings.TrimSuffix(path+e.Field, ".")
		if field == "" {
			return invalid(codeInvalidType, "", "the request body must be %s, not a JSON %s", jsonTypeName(e.Type), e.Value)
		}
		return invalid(codeInvalidType, field, "%s must be %s, not a JSON %s", field, jsonTypeName(e.Type), e.Value)
	}
	switch {
	case errors.Is(err, io.EOF):
		return invalid(codeInvalidJSON, "", "the request body is empty; it must be a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return invalid(codeInvalidJSON, "", "the request body ends in the middle of a JSON value")
	}
	// encoding/json reports unknown fields only in the message.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		field := path + strings.Trim(name, `"`)
		return invalid(codeUnknownField, field, "unknown field %s", field)
	}
	return invalid(codeInvalidJSON, strings.TrimSuffix(path, "."), "invalid JSON: %v", err)
}

// jsonTypeName describes the JSON a Go type accepts.
func jsonTypeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Uint8:
		return "an integer from 0 to 255"
	case reflect.Uint16:
		return "an integer from 0 to 65535"
	case reflect.Uint32:
		return "an integer from 0 to 4294967295"
	case reflect.Uint64:
		return "an integer from 0 to 18446744073709551615"
	case reflect.Int, reflect.Int64, reflect.Int32:
		return "an integer"
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a " + t.Kind().String()
}

// decodeBatch decodes a batch body {"<field>": [...]} into dst (a pointer
// to the request struct) and returns the number of elements, 1 to
// elementsMax. On error it
// decodes the elements one by one to name the bad one, e.g.
// "transfers[2].amount".
func decodeBatch[E any](body []byte, dst any, field string, elementsMax int, elements func() []E) (int, error) {
	if err := decodeJSON(body, dst, ""); err != nil {
		return 0, locateBatchError(body, field, err, func(raw []byte, path string) error {
			var e E
			return decodeJSON(raw, &e, path)
		})
	}
	n := len(elements())
	switch {
	case n == 0:
		return 0, invalid(codeEmptyBatch, field, "%s must hold at least one element", field)
	case n > elementsMax:
		return 0, invalid(codeTooManyEvents, field, "%s holds %d elements; at most %d are allowed per request",
			field, n, elementsMax)
	}
	return n, nil
}

// locateBatchError re-decodes a batch whose decoding failed with err, to
// report the first bad element with its index. It returns err itself when
// the fault is not inside an element.
func locateBatchError(body []byte, field string, err error, decodeElement func(raw []byte, path string) error) error {
	var raw map[string]json.RawMessage
	if decodeJSON(body, &raw, "") != nil {
		return err // syntax or top-level type error: err says it already
	}
	var list json.RawMessage
	for name, v := range raw {
		if !strings.EqualFold(name, field) { // dst matched it, maybe case-insensitively
			return invalid(codeUnknownField, name, "unknown field %s", name)
		}
		list = v
	}
	var elems []json.RawMessage
	if decodeJSON(list, &elems, "") != nil {
		return invalid(codeInvalidType, field, "%s must be an array", field)
	}
	for i, e := range elems {
		if eerr := decodeElement(e, fmt.Sprintf("%s[%d].", field, i)); eerr != nil {
			return eerr
		}
	}
	return err
}

// checkKeys scans body, already decoded into a value of type t (so known
// to be valid JSON of that shape), and refuses what encoding/json lets
// through: an object key that matches a field only case-insensitively
// ("Amount") and a key given twice (the last would silently win). Both
// would let two readers of one request disagree on what it says. The scan
// does not allocate unless it finds a fault; path prefixes the params it
// reports.
func checkKeys(body []byte, t reflect.Type, path string) error {
	k := keyScanner{b: body, root: path}
	k.value(t)
	return k.err
}

// keyScanner walks valid JSON. It keeps the path to the current value as
// a stack of segments and renders it only when reporting a fault.
type keyScanner struct {
	b    []byte
	i    int
	root string
	path []pathSegment
	err  error
}

type pathSegment struct {
	key   []byte // an object member, or nil for an array element
	index int
}

func (k *keyScanner) param(last []byte) string {
	var sb strings.Builder
	sb.WriteString(k.root)
	for _, s := range k.path {
		if s.key != nil {
			sb.Write(s.key)
			sb.WriteByte('.')
		} else {
			p := strings.TrimSuffix(sb.String(), ".")
			sb.Reset()
			sb.WriteString(p)
			sb.WriteString("[" + strconv.Itoa(s.index) + "].")
		}
	}
	sb.Write(last)
	return sb.String()
}

func (k *keyScanner) space() {
	for k.i < len(k.b) {
		switch k.b[k.i] {
		case ' ', '\t', '\n', '\r':
			k.i++
		default:
			return
		}
	}
}

// str skips a string at k.i and returns its raw contents (escapes kept).
func (k *keyScanner) str() []byte {
	start := k.i + 1
	for k.i = start; k.i < len(k.b); k.i++ {
		switch k.b[k.i] {
		case '\\':
			k.i++
		case '"':
			k.i++
			return k.b[start : k.i-1]
		}
	}
	return k.b[start:]
}

// value skips one value of Go type t (nil: anything), checking the keys
// of the objects in it.
func (k *keyScanner) value(t reflect.Type) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	k.space()
	if k.i >= len(k.b) || k.err != nil {
		return
	}
	switch k.b[k.i] {
	case '{':
		k.i++
		fields := jsonFields(t)
		var seen [16][]byte // objects of the API have fewer members
		n := 0
		for k.err == nil {
			k.space()
			if k.i >= len(k.b) || k.b[k.i] == '}' {
				k.i++
				return
			}
			if k.b[k.i] == ',' {
				k.i++
				continue
			}
			key := k.str()
			for _, s := range seen[:min(n, len(seen))] {
				if bytes.Equal(s, key) {
					k.err = invalid(codeDuplicateField, k.param(key), "field %s is given twice", k.param(key))
					return
				}
			}
			if n < len(seen) {
				seen[n] = key
			}
			n++
			ft, known := fields[string(key)]
			if fields != nil && !known {
				k.err = invalid(codeUnknownField, k.param(key), "unknown field %s (field names are case-sensitive)", k.param(key))
				return
			}
			k.space()
			k.i++ // ':'
			k.path = append(k.path, pathSegment{key: key})
			k.value(ft)
			k.path = k.path[:len(k.path)-1]
		}
	case '[':
		k.i++
		var elem reflect.Type
		if t != nil && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
			elem = t.Elem()
		}
		for index := 0; k.err == nil; {
			k.space()
			if k.i >= len(k.b) || k.b[k.i] == ']' {
				k.i++
				return
			}
			if k.b[k.i] == ',' {
				k.i++
				continue
			}
			k.path = append(k.path, pathSegment{index: index})
			k.value(elem)
			k.path = k.path[:len(k.path)-1]
			index++
		}
	case '"':
		k.str()
	default: // number, true, false, null
		for k.i < len(k.b) {
			switch k.b[k.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return
			}
			k.i++
		}
	}
}

var jsonFieldsCache sync.Map // reflect.Type → map[string]reflect.Type

// jsonFields maps the JSON names of a struct's fields to their types; nil
// for a type that is not a struct (its keys are not checked).
func jsonFields(t reflect.Type) map[string]reflect.Type {
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	if m, ok := jsonFieldsCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case !f.IsExported() || name == "-":
			continue
		case name == "":
			name = f.Name
		}
		m[name] = f.Type
	}
	jsonFieldsCache.Store(t, m)
	return m
}
