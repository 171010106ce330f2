package protocol

// The checkout.line_items match (AP2's "bipartite max-flow"): checkout
// lines on one side with their quantities, line-item rules on the other
// with theirs, an edge where a rule accepts the line's item. The checkout
// is allowed when the maximum flow carries every unit. Dinic's algorithm;
// with LineItemsMax lines and AllowedEntriesMax rules the graph has at
// most 202 nodes and 10,200 edges.

// flowLine is one checkout line as the match sees it.
type flowLine struct {
	itemID   string
	quantity int64
}

// flowEdge is a residual edge.
type flowEdge struct {
	to, rev int
	cap     int64
}

// flowGraph is a residual graph.
type flowGraph struct {
	adj   [][]flowEdge
	level []int
	iter  []int
}

func newFlowGraph(n int) *flowGraph {
	return &flowGraph{adj: make([][]flowEdge, n), level: make([]int, n), iter: make([]int, n)}
}

func (g *flowGraph) addEdge(from, to int, cap int64) {
	g.adj[from] = append(g.adj[from], flowEdge{to: to, rev: len(g.adj[to]), cap: cap})
	g.adj[to] = append(g.adj[to], flowEdge{to: from, rev: len(g.adj[from]) - 1, cap: 0})
}

func (g *flowGraph) bfs(s, t int) bool {
	for i := range g.level {
		g.level[i] = -1
	}
	g.level[s] = 0
	queue := []int{s}
	for len(queue) > 0 {
		v := queue[0]
		queue = queue[1:]
		for _, e := range g.adj[v] {
			if e.cap > 0 && g.level[e.to] < 0 {
				g.level[e.to] = g.level[v] + 1
				queue = append(queue, e.to)
			}
		}
	}
	return g.level[t] >= 0
}

func (g *flowGraph) dfs(v, t int, f int64) int64 {
	if v == t {
		return f
	}
	for ; g.iter[v] < len(g.adj[v]); g.iter[v]++ {
		e := &g.adj[v][g.iter[v]]
		if e.cap <= 0 || g.level[e.to] != g.level[v]+1 {
			continue
		}
		if d := g.dfs(e.to, t, min(f, e.cap)); d > 0 {
			e.cap -= d
			g.adj[e.to][e.rev].cap += d
			return d
		}
	}
	return 0
}

func (g *flowGraph) maxFlow(s, t int) int64 {
	var flow int64
	for g.bfs(s, t) {
		for i := range g.iter {
			g.iter[i] = 0
		}
		for {
			f := g.dfs(s, t, 1<<62)
			if f == 0 {
				break
			}
			flow += f
		}
	}
	return flow
}

// matchLineItems returns how many units of lines can be matched to rules
// and how many units each rule took.
func matchLineItems(lines []flowLine, rules []LineItemRule) (matched int64, perRule []int64) {
	n := 2 + len(lines) + len(rules)
	s, t := 0, n-1
	g := newFlowGraph(n)
	ruleNode := func(j int) int { return 1 + len(lines) + j }
	for i, l := range lines {
		if l.quantity <= 0 {
			continue
		}
		g.addEdge(s, 1+i, l.quantity)
		for j, r := range rules {
			for _, a := range r.AcceptableItems {
				if a.ID == l.itemID {
					g.addEdge(1+i, ruleNode(j), l.quantity)
					break
				}
			}
		}
	}
	sinkEdge := make([]int, len(rules))
	for j, r := range rules {
		sinkEdge[j] = len(g.adj[ruleNode(j)])
		g.addEdge(ruleNode(j), t, max(0, r.Quantity))
	}
	matched = g.maxFlow(s, t)
	perRule = make([]int64, len(rules))
	for j, r := range rules {
		perRule[j] = max(0, r.Quantity) - g.adj[ruleNode(j)][sinkEdge[j]].cap
	}
	return matched, perRule
}
