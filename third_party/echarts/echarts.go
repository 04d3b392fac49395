// Package echarts embeds Apache ECharts (see README.md), inlined into the
// HTML report so that the page needs no network.
package echarts

import _ "embed"

// Version is the ECharts release embedded.
const Version = "6.1.0"

// JS is dist/echarts.min.js of the npm package, unmodified.
//
//go:embed echarts.min.js
var JS string
