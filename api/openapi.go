package api

import (
	"bytes"
	_ "embed"
	"net/http"
)

// openAPIDocument is the OpenAPI 3.1 description of every route the server
// serves; a test checks the two against each other.
//
//go:embed openapi.json
var openAPIDocument []byte

// OpenAPI returns a copy of the OpenAPI 3.1 document served at
// GET /v1/openapi.json.
func OpenAPI() []byte { return bytes.Clone(openAPIDocument) }

func (s *Server) serveOpenAPI(c *call) error {
	return c.send(http.StatusOK, openAPIDocument)
}
