package config

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/auto-tune-vllm/auto-tune-vllm/tune/metric"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
)

// legacyObjective reads `objective:` as the Python tool does: "maximize",
// "minimize", a list (throughput + latency), or a structured mapping.
func (d *dec) legacyObjective(v *yaml.Node, f string) ([]Objective, bool) {
	switch v.Kind {
	case yaml.MappingNode:
		o, ok := d.objective(v, f)
		if !ok {
			return nil, false
		}
		return []Objective{o}, false
	case yaml.SequenceNode:
		return []Objective{{metric.OutputThroughput, "maximize", "median"}, {metric.RequestLatency, "minimize", "median"}}, true
	}
	dir, ok := d.oneOf(v, f, "maximize", "minimize")
	if !ok {
		return nil, false
	}
	if dir == "maximize" {
		return []Objective{{metric.OutputThroughput, "maximize", "median"}}, true
	}
	return []Objective{{metric.RequestLatency, "minimize", "median"}}, true
}

func (d *dec) objective(n *yaml.Node, field string) (Objective, bool) {
	o := Objective{Percentile: "median"}
	before := len(d.errs)
	d.mapping(n, field, map[string]handler{
		"metric":     func(_, v *yaml.Node, f string) { o.Metric, _ = d.oneOf(v, f, metric.Objectives...) },
		"direction":  func(_, v *yaml.Node, f string) { o.Direction, _ = d.oneOf(v, f, "maximize", "minimize") },
		"percentile": func(_, v *yaml.Node, f string) { o.Percentile, _ = d.oneOf(v, f, metric.Stats...) },
	})
	if len(d.errs) > before {
		return o, false
	}
	if o.Metric == "" || o.Direction == "" {
		d.fail(n, field, "an objective needs metric (%s) and direction (maximize or minimize)", strings.Join(metric.Objectives, ", "))
		return o, false
	}
	if o.Percentile == "p50" {
		o.Percentile = "median"
	}
	return o, true
}

func (d *dec) constraints(n *yaml.Node, field string, s *Study) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, field, "must be a list of expressions, e.g. [\"max_num_batched_tokens - max_model_len\"] (> 0 means violated)")
		return
	}
	known := map[string]bool{}
	var names []string
	for _, p := range s.Parameters {
		known[p.Name] = true
		names = append(names, p.Name)
	}
	for _, v := range s.Static {
		known[v.Name] = true
		names = append(names, v.Name)
	}
	for i, c := range n.Content {
		c = resolve(c)
		f := fmt.Sprintf("%s[%d]", field, i)
		src, ok := d.str(c, f)
		if !ok {
			continue
		}
		e, err := ParseExpr(src)
		if err != nil {
			d.fail(c, f, "%q: %v", src, err)
			continue
		}
		for _, name := range e.Names() {
			if !known[name] && !d.bad[name] { // a failed parameter was reported already
				d.fail(c, f, "%q uses %s, which is neither a parameter nor a static parameter%s", src, name, suggest(name, names))
			}
		}
		s.Constraints = append(s.Constraints, e)
	}
	for _, p := range s.Parameters {
		if _, ok := p.Dist.(*space.Categorical); ok {
			for _, e := range s.Constraints {
				for _, name := range e.Names() {
					if name == p.Name && !numericChoices(p.Dist.(*space.Categorical)) {
						d.fail(n, field, "%q uses %s, whose options are not all numbers", e.Source, name)
					}
				}
			}
		}
	}
}

func numericChoices(c *space.Categorical) bool {
	for _, x := range c.Choices {
		switch x.(type) {
		case int64, float64, bool:
		default:
			return false
		}
	}
	return true
}

func (d *dec) slos(n *yaml.Node, field string, s *Study) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, field, "must be a list of limits, e.g. [{metric: time_to_first_token_ms, percentile: p95, max: 200}]")
		return
	}
	for i, c := range n.Content {
		c = resolve(c)
		f := fmt.Sprintf("%s[%d]", field, i)
		slo := SLO{Percentile: "median"}
		d.mapping(c, f, map[string]handler{
			"metric":     func(_, v *yaml.Node, f string) { slo.Metric, _ = d.oneOf(v, f, metric.Objectives...) },
			"percentile": func(_, v *yaml.Node, f string) { slo.Percentile, _ = d.oneOf(v, f, metric.Stats...) },
			"max": func(_, v *yaml.Node, f string) {
				if x, ok := d.number(v, f); ok {
					slo.Max = &x
				}
			},
			"min": func(_, v *yaml.Node, f string) {
				if x, ok := d.number(v, f); ok {
					slo.Min = &x
				}
			},
		})
		if slo.Metric == "" || slo.Max == nil && slo.Min == nil {
			d.fail(c, f, "an SLO needs metric and max and/or min")
			continue
		}
		if slo.Percentile == "p50" {
			slo.Percentile = "median"
		}
		s.SLOs = append(s.SLOs, slo)
	}
}
