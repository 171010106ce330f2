package api

import (
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/agentpay/agentpay/ledger"
	"github.com/agentpay/agentpay/protocol"
	"github.com/agentpay/agentpay/wallet"
)

// metrics are the server's Prometheus collectors. Routes are labelled by
// their pattern ("POST /v1/transfers") or "unmatched", so the label set
// is bounded.
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	handler  http.Handler // serves /metrics
}

func newMetrics(reg *prometheus.Registry, eng *ledger.Engine, svc *wallet.Service) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "agentpay_http_requests_total",
			Help: "HTTP requests answered, by route pattern and status.",
		}, []string{"route", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "agentpay_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route pattern and status.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16), // 0.5 ms … 16 s
		}, []string{"route", "status"}),
	}
	stat := func(f func(ledger.Stats) float64) func() float64 {
		return func() float64 { return f(eng.Stats()) }
	}
	collectors := []prometheus.Collector{
		m.requests,
		m.latency,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "agentpay_ledger_batches_total", Help: "Ledger batches committed.",
		}, stat(func(s ledger.Stats) float64 { return float64(s.Batches) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "agentpay_ledger_events_total", Help: "Ledger events (assets, accounts, transfers, expiries) committed.",
		}, stat(func(s ledger.Stats) float64 { return float64(s.Events) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "agentpay_ledger_transfers_total", Help: "Transfers committed.",
		}, stat(func(s ledger.Stats) float64 { return float64(s.Transfers) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "agentpay_ledger_requests_total", Help: "Engine requests answered after their batch committed.",
		}, stat(func(s ledger.Stats) float64 { return float64(s.Requests) })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "agentpay_ledger_commit_seconds_total", Help: "Time spent committing batches to the store.",
		}, stat(func(s ledger.Stats) float64 { return float64(s.CommitNanos) / 1e9 })),
		commitHistogram{eng: eng, desc: prometheus.NewDesc("agentpay_ledger_commit_duration_seconds",
			"Time to commit one batch to the store (fsync included).", nil, nil)},
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "agentpay_ledger_queue_requests", Help: "Requests waiting in the engine's queue.",
		}, stat(func(s ledger.Stats) float64 { return float64(s.QueueRequests) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "agentpay_ledger_up", Help: "1 while the engine runs, 0 once it has failed.",
		}, func() float64 {
			if eng.Err() != nil {
				return 0
			}
			return 1
		}),
	}
	ed := func(f func(protocol.Ed25519Stats) int64) func() float64 {
		return func() float64 { return float64(f(protocol.Ed25519Counts())) }
	}
	collectors = append(collectors,
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "agentpay_ed25519_verified_alone_total",
			Help: "Ed25519 signatures of registered keys verified alone: nobody else was verifying, an agent request's own signature, or a key whose signature failed in the last minute.",
		}, ed(func(s protocol.Ed25519Stats) int64 { return s.Alone })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "agentpay_ed25519_verified_batched_total",
			Help: "Ed25519 signatures of registered keys verified in batches with others.",
		}, ed(func(s protocol.Ed25519Stats) int64 { return s.Batched })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "agentpay_ed25519_batches_total", Help: "Batches of Ed25519 signatures verified together.",
		}, ed(func(s protocol.Ed25519Stats) int64 { return s.Batches })),
	)
	if svc != nil {
		collectors = append(collectors,
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "agentpay_wallet_payment_docs_kept",
				Help: "AI Wallet payment docs held in memory (at most serve --payment-docs-kept).",
			}, func() float64 { return float64(svc.Stats().DocsKept) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "agentpay_wallet_payment_doc_reads_total",
				Help: "AI Wallet payments read from the store because their doc was not in memory.",
			}, func() float64 { return float64(svc.Stats().DocReads) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "agentpay_wallet_payments_total", Help: "AI Wallet payments made (completed or held).",
			}, func() float64 { return float64(svc.Stats().Payments) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "agentpay_wallet_payments_refused_total", Help: "AI Wallet payments refused.",
			}, func() float64 { return float64(svc.Stats().Refused) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "agentpay_wallet_payments_loaded", Help: "AI Wallet payments read from their docs when the service started.",
			}, func() float64 { return float64(svc.Stats().Loaded) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "agentpay_wallet_load_seconds", Help: "How long the AI Wallet took to rebuild its state from the docs when the service started.",
			}, func() float64 { return float64(svc.Stats().LoadNanos) / 1e9 }),
		)
	}
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("api: registering metrics: %w", err)
		}
	}
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	return m, nil
}

// observe records one answered request.
func (m *metrics) observe(route string, status int, d time.Duration) {
	code := strconv.Itoa(status)
	m.requests.WithLabelValues(route, code).Inc()
	m.latency.WithLabelValues(route, code).Observe(d.Seconds())
}

func (s *Server) serveMetrics(c *call) error {
	s.metrics.handler.ServeHTTP(c.w, c.r)
	return nil
}

// commitHistogram exports the engine's commit duration histogram
// (ledger.Stats.CommitHistogram, power-of-two microsecond buckets).
type commitHistogram struct {
	eng  *ledger.Engine
	desc *prometheus.Desc
}

func (h commitHistogram) Describe(ch chan<- *prometheus.Desc) { ch <- h.desc }

func (h commitHistogram) Collect(ch chan<- prometheus.Metric) {
	st := h.eng.Stats()
	buckets := make(map[float64]uint64, ledger.CommitHistogramBuckets-1)
	var count uint64
	for i, n := range st.CommitHistogram {
		count += n
		if i < ledger.CommitHistogramBuckets-1 {
			buckets[float64(uint64(1)<<i)/1e6] = count
		}
	}
	ch <- prometheus.MustNewConstHistogram(h.desc, count, float64(st.CommitNanos)/1e9, buckets)
}
