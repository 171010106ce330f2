package protocol

// LogCheckpoint is one stored checkpoint of the evidence log: its tree
// size and its C2SP signed note (the log's signature followed by every
// stored witness cosignature), as text.
type LogCheckpoint struct {
	Size uint64 `json:"size"`
	Note string `json:"note"`
}

// LogCheckpointList is the body of GET /v1/log/checkpoints: stored
// checkpoints in size order. NextCursor, when set, is the after of the
// next page (a decimal size).
type LogCheckpointList struct {
	Data       []LogCheckpoint `json:"data"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

// LogCosignatures is the body of a successful POST /v1/log/cosignatures:
// the checkpoint size and the witnesses whose cosignatures were stored.
type LogCosignatures struct {
	Size      uint64   `json:"size"`
	Witnesses []string `json:"witnesses"`
}
