package api

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
)

func batchBody(n int) []byte {
	var sb strings.Builder
	sb.WriteString(`{"transfers":[`)
	for i := range n {
		if i > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"id":"tr_%s","debit_account_id":"acct_%s","credit_account_id":"acct_%s","amount":%d,"ledger":1,"code":1,"user_data_64":%d,"flags":["linked"]}`,
			ledger.IDFromUint64(uint64(i+1)), ledger.IDFromUint64(1), ledger.IDFromUint64(2), i+1, i)
	}
	sb.WriteString(`]}`)
	return []byte(sb.String())
}

// BenchmarkDecodeTransferBatch decodes a full batch (8,189 transfers).
func BenchmarkDecodeTransferBatch(b *testing.B) {
	body := batchBody(ledger.BatchEventsMax)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		if _, err := decodeTransferBatch(body, fixedID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRenderTransferBatch renders the response of a full batch, the
// work Render adds to the engine's commit goroutine.
func BenchmarkRenderTransferBatch(b *testing.B) {
	ts, err := decodeTransferBatch(batchBody(ledger.BatchEventsMax), fixedID)
	if err != nil {
		b.Fatal(err)
	}
	results := make([]ledger.Result, len(ts))
	for i := range ts {
		ts[i].Timestamp = 1_700_000_000_000_000_000 + uint64(i)
	}
	for b.Loop() {
		renderTransferBatch(ts, results)
	}
}

// BenchmarkCheckKeys is the strict-key scan's share of decoding.
func BenchmarkCheckKeys(b *testing.B) {
	body := batchBody(ledger.BatchEventsMax)
	for b.Loop() {
		_ = checkKeys(body, reflect.TypeOf(&protocol.CreateTransfersRequest{}), "")
	}
}

// BenchmarkMarshalTransferBatchEncodingJSON is what encoding/json takes
// for the transfers of BenchmarkRenderTransferBatch, for comparison.
func BenchmarkMarshalTransferBatchEncodingJSON(b *testing.B) {
	ts, _ := decodeTransferBatch(batchBody(ledger.BatchEventsMax), fixedID)
	ps := make([]protocol.Transfer, len(ts))
	for i := range ts {
		ts[i].Timestamp = 1_700_000_000_000_000_000 + uint64(i)
		ps[i] = toProtocolTransfer(&ts[i], false)
	}
	for b.Loop() {
		_, _ = json.Marshal(ps)
	}
}
