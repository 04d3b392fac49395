package report

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/auto-tune-vllm/auto-tune-vllm/third_party/echarts"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/space"
	"github.com/auto-tune-vllm/auto-tune-vllm/tune/study"
)

// ParamImportance is how much of an objective's variation a parameter
// explains (PED-ANOVA's importance; the values of one objective sum to 1).
type ParamImportance struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	// Objective is the objective's metric; empty for a single list.
	Objective string `json:"objective,omitempty"`
}

// HTMLOptions add to the model what only the page shows.
type HTMLOptions struct {
	// Importance of the parameters; empty renders "not computed".
	Importance []ParamImportance
	// Generated is when the page was made, shown on it.
	Generated time.Time
}

var (
	//go:embed html/page.html.tmpl
	pageTemplate string
	//go:embed html/report.js
	pageJS string
	//go:embed html/report.css
	pageCSS string

	page = template.Must(template.New("page").Funcs(template.FuncMap{
		"number":      number,
		"join":        strings.Join,
		"change":      func(c *Change) string { return changeText(c, "", "the baseline") },
		"improvement": improvement,
		"deref":       func(p *int) int { return *p },
		"sentence":    sentence,
	}).Parse(pageTemplate))
)

// pageTrial is one trial as the page shows it.
type pageTrial struct {
	Number int    `json:"number"`
	Kind   string `json:"kind"`
	// Status is the trial's outcome in the report's words: baseline,
	// complete (feasible), infeasible, pruned, failed, or the raw state
	// of one not finished (running, waiting).
	Status      string         `json:"status"`
	State       string         `json:"state"`
	Values      numbers        `json:"values"`
	Params      map[string]any `json:"params"`
	Concurrency int            `json:"concurrency,omitempty"`
	ErrorType   string         `json:"error_type,omitempty"`
	Error       string         `json:"error,omitempty"`
	Seconds     *float64       `json:"seconds,omitempty"`
	Best        bool           `json:"best,omitempty"` // in Model.Best
}

// pageParam is one parameter's axis: numbers (log-scaled or not) or the
// choices of a categorical.
type pageParam struct {
	Name    string   `json:"name"`
	Log     bool     `json:"log,omitempty"`
	Choices []string `json:"choices,omitempty"`
}

// pageData is everything the page's script draws from, embedded as JSON.
type pageData struct {
	*Model
	Trials     []pageTrial       `json:"trials"`
	Params     []pageParam       `json:"params"`
	Importance []ParamImportance `json:"importance"`
	Answers    []Answer          `json:"answers"`
	Why        string            `json:"why"`
}

// HTML writes the report as one self-contained page: the chart library,
// styles, script and data inlined, so that it opens from disk offline.
// trials are the study's trials the model was built from.
func (m *Model) HTML(w io.Writer, trials []study.Trial, o HTMLOptions) error {
	answers, why := m.Answers()
	d := pageData{Model: m, Answers: answers, Why: why, Importance: o.Importance}
	best := map[int]bool{}
	for _, e := range m.Best {
		best[e.Number] = true
	}
	for _, t := range trials {
		d.Trials = append(d.Trials, newPageTrial(t, best[t.Number]))
	}
	d.Params = params(trials)
	for i := range d.Importance {
		if math.IsNaN(d.Importance[i].Value) || math.IsInf(d.Importance[i].Value, 0) {
			d.Importance[i].Value = 0
		}
	}
	data, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("report data: %w", err)
	}
	// json.Marshal escapes <, > and & (and U+2028/9), so the data cannot end
	// its <script> element early; the library is checked the same way.
	if strings.Contains(strings.ToLower(echarts.JS), "</script") {
		return fmt.Errorf("the embedded ECharts %s holds </script: it cannot be inlined", echarts.Version)
	}
	generated := ""
	if !o.Generated.IsZero() {
		generated = o.Generated.UTC().Format("2006-01-02 15:04 UTC")
	}
	head, rows := table(m.Objectives, d.Params, d.Trials)
	var buf bytes.Buffer
	err = page.Execute(&buf, map[string]any{
		"Head":      head,
		"Rows":      rows,
		"M":         m,
		"D":         d,
		"Generated": generated,
		"Version":   echarts.Version,
		"Lib":       template.JS(echarts.JS),
		"JS":        template.JS(pageJS),
		"CSS":       template.CSS(pageCSS),
		"Data":      template.JS(data),
	})
	if err != nil {
		return fmt.Errorf("render the HTML report: %w", err)
	}
	_, err = w.Write(buf.Bytes())
	return err
}

func newPageTrial(t study.Trial, best bool) pageTrial {
	p := pageTrial{Number: t.Number, Kind: string(t.Kind()), State: string(t.State), Values: t.Values, Params: map[string]any{}, Best: best}
	baseline := t.Kind() == study.Baseline
	switch {
	case baseline && t.State == study.Complete:
		p.Status = "baseline"
		p.Concurrency = t.BaselineConcurrency()
	case t.State == study.Complete && t.Feasible() && finite(t.Values):
		p.Status = "complete"
	case t.State == study.Complete || t.State == study.Pruned && !t.Feasible():
		p.Status = "infeasible"
	case t.State == study.Pruned:
		p.Status = "pruned"
	case t.State == study.Fail:
		p.Status = "failed"
	default:
		p.Status = strings.ToLower(string(t.State))
	}
	for name := range t.Dists {
		p.Params[name] = jsonSafe(t.External(name))
	}
	p.ErrorType, _ = t.UserAttrs[study.AttrErrorType].(string)
	p.Error, _ = t.UserAttrs[study.AttrErrorMessage].(string)
	if s, ok := t.UserAttrs[study.AttrTotalSeconds].(float64); ok {
		p.Seconds = &s
	} else if !t.Start.IsZero() && !t.Complete.IsZero() {
		s := math.Round(t.Complete.Sub(t.Start).Seconds()*100) / 100
		p.Seconds = &s
	}
	return p
}

// jsonSafe is v, with a float JSON cannot hold (NaN, ±Inf) as nil.
func jsonSafe(v any) any {
	if f, ok := v.(float64); ok && (math.IsNaN(f) || math.IsInf(f, 0)) {
		return nil
	}
	return v
}

// params are the axes of the parameters any trial sampled, by name; a
// categorical's choices as text.
func params(trials []study.Trial) []pageParam {
	seen := map[string]space.Distribution{}
	for _, t := range trials {
		for name, d := range t.Dists {
			seen[name] = d
		}
	}
	out := make([]pageParam, 0, len(seen))
	for name, d := range seen {
		p := pageParam{Name: name}
		switch d := d.(type) {
		case *space.Categorical:
			for _, c := range d.Choices {
				p.Choices = append(p.Choices, fmt.Sprint(c))
			}
		case *space.Float:
			p.Log = d.Log
		case *space.Int:
			p.Log = d.Log
		}
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// cell is one cell of the trial table; sort orders its column (a number
// where the column holds numbers).
type cell struct {
	Text  string
	Sort  string
	Class string
	Title string
}

type tableRow struct {
	Number int
	Status string
	Cells  []cell
}

// table is the table of every trial: its head and one row per trial.
func table(objs []Objective, ps []pageParam, ts []pageTrial) ([]string, []tableRow) {
	head := []string{"trial", "kind", "status", "failure"}
	for _, o := range objs {
		arrow := "↓"
		if o.Maximize {
			arrow = "↑"
		}
		head = append(head, o.Key+" "+arrow)
	}
	for _, p := range ps {
		head = append(head, p.Name)
	}
	head = append(head, "seconds", "message")
	rows := make([]tableRow, 0, len(ts))
	num := func(v float64) cell {
		if math.IsNaN(v) {
			return cell{Text: "—", Class: "num"}
		}
		return cell{Text: number(v), Sort: fmt.Sprint(v), Class: "num"}
	}
	for _, t := range ts {
		r := tableRow{Number: t.Number, Status: t.Status}
		kind := t.Kind
		if t.Concurrency > 0 {
			kind += fmt.Sprintf(" @%d", t.Concurrency)
		}
		r.Cells = append(r.Cells, cell{Text: fmt.Sprint(t.Number), Sort: fmt.Sprint(t.Number), Class: "num"},
			cell{Text: kind, Sort: kind}, cell{Text: t.Status, Sort: t.Status, Class: "status " + t.Status, Title: "stored as " + t.State},
			cell{Text: t.ErrorType, Sort: t.ErrorType})
		for i := range objs {
			if i < len(t.Values) {
				r.Cells = append(r.Cells, num(t.Values[i]))
			} else {
				r.Cells = append(r.Cells, cell{Text: "", Class: "num"})
			}
		}
		for _, p := range ps {
			v, ok := t.Params[p.Name]
			switch f := v.(type) {
			case float64:
				r.Cells = append(r.Cells, num(f))
			case int64:
				r.Cells = append(r.Cells, cell{Text: fmt.Sprint(f), Sort: fmt.Sprint(f), Class: "num"})
			default:
				text := ""
				if ok && v != nil {
					text = fmt.Sprint(v)
				}
				r.Cells = append(r.Cells, cell{Text: text, Sort: text})
			}
		}
		if t.Seconds != nil {
			r.Cells = append(r.Cells, num(*t.Seconds))
		} else {
			r.Cells = append(r.Cells, cell{Class: "num"})
		}
		// A server's failure can quote pages of its output: the cell shows
		// the start, the tooltip all of it, so one row does not fill a screen.
		msg := cell{Text: t.Error, Sort: t.Error, Class: "msg"}
		if r := []rune(t.Error); len(r) > msgChars {
			msg.Text, msg.Title = string(r[:msgChars])+"…", t.Error
		}
		r.Cells = append(r.Cells, msg)
		rows = append(rows, r)
	}
	return head, rows
}

// msgChars is how much of a failure message the trial table shows.
const msgChars = 240

// improvement words a single run's improvement over the baseline.
func improvement(p float64) string {
	switch {
	case math.Abs(p) < 0.05:
		return "the same"
	case p > 0:
		return fmt.Sprintf("%.1f %% better", p)
	}
	return fmt.Sprintf("%.1f %% worse", -p)
}

// sentence starts s with a capital, except a name that starts lower-case.
func sentence(s string) string {
	if s == "" || strings.HasPrefix(s, "vLLM") {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
