/*
 * flamegraph.c - one self-contained interactive SVG flame graph.
 *
 * Layout: the root ("all") is the bottom row, children above their parent,
 * siblings left to right in profile_children_sorted() order; a frame's
 * width is its node total. Frames narrower than min_width_px are not drawn
 * (nor anything above them); how many and what share of the weight that
 * was goes into the subtitle.
 *
 * Each frame is
 *   <g data-x="OFFSET" data-w="WEIGHT"><title>NAME (N unit, P%)
 *   KIND[, DSO]</title><rect .../><text ...>LABEL</text></g>
 * OFFSET and WEIGHT are integers in the profile's unit, so zooming in the
 * browser is exact however deep it goes. The script finds a frame's name
 * as the first title line up to its last " (". Names are never put into
 * the script: they only appear as XML text, escaped by xml_put().
 *
 * The output depends on nothing but the profile and the options: no time,
 * no locale (numbers are formatted by hand), no hash seeds.
 */
#include "output.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "error.h"
#include "json.h"

#define NONE UINT32_MAX
#define FG_PAD 10		/* left and right margin, px */
#define FG_FRAME_H 16		/* row height, px */
#define FG_TOP 60		/* title, subtitle, controls */
#define FG_BOTTOM 30		/* details line */
#define FG_FONT 12		/* px */
#define FG_CHAR_W 7.0		/* approximate width of one character, px */
#define FG_MAX_ITEMS ((size_t)1 << 28)

struct fg_item {
	uint32_t node;
	uint32_t depth;
	uint64_t x;		/* offset from the left, in weight units */
};

struct fg_layout {
	struct fg_item *items;	/* drawn frames, depth-first order */
	size_t nr, alloc;
	uint32_t max_depth;
	uint64_t pruned_nodes, pruned_weight;
};

/* ---- text ---------------------------------------------------------------- */

static size_t utf8_chars(const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = 0;
	uint32_t cp;

	while (*u) {
		u += utf8_decode(u, &cp);
		n++;
	}
	return n;
}

/*
 * Write at most max characters of s as XML character data or attribute
 * value: markup characters as entities, control characters (C0, DEL, C1)
 * as '?', invalid UTF-8 and the non-characters U+FFFE/U+FFFF as U+FFFD.
 * Every input character becomes exactly one output character, so
 * utf8_chars() is also the length the browser sees.
 */
static void xml_put(FILE *f, const char *s, size_t max)
{
	const unsigned char *u = (const unsigned char *)(s ? s : "");
	uint32_t cp;
	size_t len;

	for (; *u && max; u += len, max--) {
		len = utf8_decode(u, &cp);
		switch (cp) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		case 0xfffd: case 0xfffe: case 0xffff:
			fputs("\xef\xbf\xbd", f);
			break;
		default:
			if (cp < 0x20 || (cp >= 0x7f && cp < 0xa0))
				putc('?', f);
			else
				fwrite(u, 1, len, f);
		}
	}
}

/* v >= 0 with `dec` decimals, locale-free; trailing zeros kept. */
static const char *fmt_fixed(char *buf, size_t size, double v, int dec)
{
	uint64_t scale = dec == 1 ? 10 : dec == 2 ? 100 : 1, n;

	if (!(v >= 0))
		v = 0;
	if (v > 1e15)
		v = 1e15;
	n = (uint64_t)(v * (double)scale + 0.5);
	if (scale == 1)
		snprintf(buf, size, "%" PRIu64, n);
	else
		snprintf(buf, size, "%" PRIu64 ".%0*" PRIu64, n / scale, dec,
			 n % scale);
	return buf;
}

/* "0.10" -> "0.1", "2.00" -> "2" (buf from fmt_fixed) */
static const char *fmt_trim(char *buf)
{
	char *e = buf + strlen(buf);

	if (!strchr(buf, '.'))
		return buf;
	while (e > buf && e[-1] == '0')
		*--e = '\0';
	if (e > buf && e[-1] == '.')
		*--e = '\0';
	return buf;
}

/* 1234567 -> "1,234,567" */
static const char *fmt_count(char *buf, size_t size, uint64_t v)
{
	char tmp[32];
	int len = snprintf(tmp, sizeof(tmp), "%" PRIu64, v), i, o = 0;

	for (i = 0; i < len && (size_t)o + 2 < size; i++) {
		if (i && (len - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = '\0';
	return buf;
}

/* ---- colours ------------------------------------------------------------- */

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* A family per kind, the shade within it from the name's hash. */
static void frame_colour(const struct frame *fr, int rgb[3])
{
	uint32_t h = name_hash(fr->name);
	int a = (int)(h & 0xff), b = (int)(h >> 8 & 0xff),
	    c = (int)(h >> 16 & 0xff);

	switch (fr->kind) {
	case FRAME_PYTHON:	/* yellow to green */
		rgb[0] = 110 + a * 110 / 255;
		rgb[1] = 190 + b * 50 / 255;
		rgb[2] = 40 + c * 50 / 255;
		break;
	case FRAME_NATIVE:	/* orange to red */
		rgb[0] = 225 + a * 30 / 255;
		rgb[1] = 70 + b * 110 / 255;
		rgb[2] = 30 + c * 40 / 255;
		break;
	case FRAME_INTERP:	/* grey, slightly warm */
		rgb[0] = 175 + a * 40 / 255;
		rgb[1] = rgb[0] - 5;
		rgb[2] = rgb[0] - 20;
		break;
	case FRAME_KERNEL:	/* blue */
		rgb[0] = 70 + a * 60 / 255;
		rgb[1] = 140 + b * 60 / 255;
		rgb[2] = 215 + c * 40 / 255;
		break;
	default:		/* runtime pseudo-frames: purple-grey */
		rgb[0] = 175 + a * 40 / 255;
		rgb[1] = 140 + b * 30 / 255;
		rgb[2] = 205 + c * 40 / 255;
		break;
	}
}

/* ---- layout -------------------------------------------------------------- */

static int layout_push(struct fg_item **v, size_t *nr, size_t *alloc,
		       uint32_t node, uint32_t depth, uint64_t x)
{
	int err = grow_array((void **)v, alloc, *nr + 1, sizeof(**v),
			     FG_MAX_ITEMS);

	if (err)
		return err;
	(*v)[*nr].node = node;
	(*v)[*nr].depth = depth;
	(*v)[*nr].x = x;
	(*nr)++;
	return 0;
}

/* Nodes with weight in the subtree of `top` (itself included). */
static uint64_t subtree_nodes(const struct profile *p, uint32_t top)
{
	const struct pnode *n;
	uint64_t count = 0;
	uint32_t cur = top;

	for (;;) {
		n = profile_node(p, cur);
		if (n->total)
			count++;
		if (n->first_child != NONE) {
			cur = n->first_child;
			continue;
		}
		while (cur != top && profile_node(p, cur)->next_sibling == NONE)
			cur = profile_node(p, cur)->parent;
		if (cur == top)
			return count;
		cur = profile_node(p, cur)->next_sibling;
	}
}

/*
 * Depth-first with an explicit stack (profiles can be thousands of frames
 * deep); children are pushed in reverse so they pop in sorted order.
 */
static int layout_build(const struct profile *p, double min_weight,
			struct fg_layout *l)
{
	struct fg_item *stack = NULL, it;
	size_t nr_stack = 0, stack_alloc = 0, kids_alloc = 0, nk, i;
	uint32_t *kids = NULL;
	uint64_t x;
	int err;

	err = layout_push(&stack, &nr_stack, &stack_alloc, 0, 0, 0);
	while (!err && nr_stack) {
		it = stack[--nr_stack];
		err = layout_push(&l->items, &l->nr, &l->alloc, it.node,
				  it.depth, it.x);
		if (err)
			break;
		if (it.depth > l->max_depth)
			l->max_depth = it.depth;
		nk = profile_children_sorted(p, it.node, kids, kids_alloc);
		if (nk > kids_alloc) {
			err = grow_array((void **)&kids, &kids_alloc, nk,
					 sizeof(*kids), SIZE_MAX / 8);
			if (err)
				break;
			nk = profile_children_sorted(p, it.node, kids,
						     kids_alloc);
		}
		/* offsets left to right, then push right to left */
		x = it.x;
		for (i = 0; i < nk; i++) {
			uint64_t w = profile_node(p, kids[i])->total;

			x += w;
		}
		for (i = nk; i-- > 0 && !err;) {
			uint64_t w = profile_node(p, kids[i])->total;

			x -= w;
			if (w == 0)
				continue;
			if ((double)w < min_weight) {
				l->pruned_nodes += subtree_nodes(p, kids[i]);
				l->pruned_weight += w;
				continue;
			}
			err = layout_push(&stack, &nr_stack, &stack_alloc,
					  kids[i], it.depth + 1, x);
		}
	}
	free(stack);
	free(kids);
	return err;
}

/* ---- SVG ----------------------------------------------------------------- */

/*
 * The script: zoom (click a frame; click the root or "Reset Zoom" to go
 * back), search (click "Search" or Ctrl-F: a regular expression; matches
 * turn magenta and "Matched: X%" gives their share of the total, nested
 * matches counted once), and the details line on hover. "#s=RE" and "#z=N"
 * (N-th frame) in the URL search and zoom on load. On load it sets
 * data-pm-ready="1" on the root element (tests/golden/browser-check).
 */
static const char fg_script[] =
"var svg,fr,det,mat,unz,sea,sre=null,S0=(W-2*PAD)/TOTAL;\n"
"function $(i){return document.getElementById(i);}\n"
"function pm_init(){svg=document.documentElement;fr=$(\"frames\");\n"
" det=$(\"details\");mat=$(\"matched\");unz=$(\"unzoom\");sea=$(\"search\");\n"
" fr.addEventListener(\"click\",function(e){var g=grp(e.target);if(g)zoom(g);});\n"
" fr.addEventListener(\"mouseover\",function(e){var g=grp(e.target);\n"
"  if(g)det.textContent=\"Function: \"+g.firstElementChild.textContent.split(\"\\n\")[0];});\n"
" fr.addEventListener(\"mouseout\",function(){det.textContent=\" \";});\n"
" unz.addEventListener(\"click\",unzoom);\n"
" sea.addEventListener(\"click\",function(){if(sre!==null)reset_search();else ask();});\n"
" window.addEventListener(\"keydown\",function(e){\n"
"  if((e.ctrlKey||e.metaKey)&&e.keyCode==70){e.preventDefault();ask();}\n"
"  else if(e.key==\"Escape\"){reset_search();unzoom();}});\n"
" location.hash.substring(1).split(\"&\").forEach(function(a){\n"
"  var v=decodeURIComponent(a.substring(2));\n"
"  if(a.indexOf(\"s=\")==0)pm_search(v);\n"
"  if(a.indexOf(\"z=\")==0&&fr.children[+v])zoom(fr.children[+v]);});\n"
" svg.setAttribute(\"data-pm-ready\",\"1\");}\n"
"function grp(n){while(n&&n!==fr){if(n.tagName==\"g\")return n;n=n.parentNode;}return null;}\n"
"function fname(g){var t=g.firstElementChild.textContent.split(\"\\n\")[0];\n"
" return t.substring(0,t.lastIndexOf(\" (\"));}\n"
"function num(g,a){return +g.getAttribute(a);}\n"
"function fit(s,w){var n=Math.floor((w-6)/CW),a=Array.from(s);\n"
" if(a.length<=n)return s;return n<3?\"\":a.slice(0,n-2).join(\"\")+\"..\";}\n"
"function place(g,x,w){var r=g.children[1],t=g.children[2],s;\n"
" r.setAttribute(\"x\",x.toFixed(2));r.setAttribute(\"width\",w.toFixed(2));\n"
" s=fit(fname(g),w);if(!t&&!s)return;\n"
" if(!t){t=document.createElementNS(\"http://www.w3.org/2000/svg\",\"text\");\n"
"  t.setAttribute(\"y\",(num(r,\"y\")+11.5).toFixed(1));g.appendChild(t);}\n"
" t.setAttribute(\"x\",(x+3).toFixed(2));t.textContent=s;}\n"
"function zoom(g){if(g.hasAttribute(\"data-r\")){unzoom();return;}\n"
" var zx=num(g,\"data-x\"),zw=num(g,\"data-w\"),zy=num(g.children[1],\"y\"),\n"
"  s=(W-2*PAD)/zw,gs=fr.children,i,h,x,w;\n"
" unz.classList.remove(\"hide\");\n"
" for(i=0;i<gs.length;i++){h=gs[i];x=num(h,\"data-x\");w=num(h,\"data-w\");\n"
"  if(x+w<=zx||x>=zx+zw){h.classList.add(\"hide\");continue;}\n"
"  h.classList.remove(\"hide\");\n"
"  if(num(h.children[1],\"y\")>zy){h.classList.add(\"parent\");place(h,PAD,W-2*PAD);}\n"
"  else{h.classList.remove(\"parent\");place(h,PAD+(x-zx)*s,w*s);}}}\n"
"function unzoom(){var gs=fr.children,i,h;unz.classList.add(\"hide\");\n"
" for(i=0;i<gs.length;i++){h=gs[i];h.classList.remove(\"hide\");h.classList.remove(\"parent\");\n"
"  place(h,PAD+num(h,\"data-x\")*S0,num(h,\"data-w\")*S0);}}\n"
"function ask(){var t=prompt(\"Search (regular expression)\",sre||\"\");\n"
" if(t!==null&&t!==\"\")pm_search(t);}\n"
"function reset_search(){var gs=fr.children,i,r;sre=null;\n"
" for(i=0;i<gs.length;i++){r=gs[i].children[1];\n"
"  if(r.hasAttribute(\"data-c\")){r.setAttribute(\"fill\",r.getAttribute(\"data-c\"));r.removeAttribute(\"data-c\");}}\n"
" mat.textContent=\" \";sea.textContent=\"Search\";}\n"
"function pm_search(t){var re,gs=fr.children,iv=[],i,g,r,sum=0,end=-1;\n"
" try{re=new RegExp(t);}catch(e){mat.textContent=\"Bad regex: \"+e.message;return -1;}\n"
" reset_search();sre=t;\n"
" for(i=0;i<gs.length;i++){g=gs[i];if(!re.test(fname(g)))continue;r=g.children[1];\n"
"  r.setAttribute(\"data-c\",r.getAttribute(\"fill\"));r.setAttribute(\"fill\",\"rgb(230,0,230)\");\n"
"  iv.push([num(g,\"data-x\"),num(g,\"data-w\")]);}\n"
" iv.sort(function(a,b){return a[0]-b[0]||b[1]-a[1];});\n"
" iv.forEach(function(v){var e=v[0]+v[1];if(e<=end)return;sum+=e-Math.max(v[0],end);end=e;});\n"
" mat.textContent=\"Matched: \"+(100*sum/TOTAL).toFixed(1)+\"%\";sea.textContent=\"Reset Search\";\n"
" return sum;}\n";

static void svg_head(FILE *f, unsigned width, unsigned height, uint64_t total,
		     const char *title, const char *subtitle,
		     const struct fg_layout *l, double min_px)
{
	char b1[32], b2[32], b3[32];

	fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n"
		"<svg version=\"1.1\" width=\"%u\" height=\"%u\" "
		"viewBox=\"0 0 %u %u\" xmlns=\"http://www.w3.org/2000/svg\" "
		"onload=\"pm_init()\">\n", width, height, width, height);
	fputs("<style type=\"text/css\"><![CDATA[\n"
	      "text{font-family:Verdana,\"DejaVu Sans\",sans-serif;"
	      "font-size:12px;fill:#000}\n"
	      "#title{font-size:17px;text-anchor:middle}\n"
	      "#subtitle{fill:#555;text-anchor:middle}\n"
	      "#search,#matched{text-anchor:end}\n"
	      "#search,#unzoom{cursor:pointer;fill:#036}\n"
	      "#frames g{cursor:pointer}\n"
	      "#frames text{pointer-events:none}\n"
	      "#frames g:hover rect{stroke:#000;stroke-width:0.5}\n"
	      ".parent{opacity:0.5}\n"
	      ".hide{display:none}\n"
	      "]]></style>\n", f);
	fprintf(f, "<script type=\"text/ecmascript\"><![CDATA[\n"
		"\"use strict\";\nvar W=%u,PAD=%d,CW=%s,TOTAL=%" PRIu64 ";\n",
		width, FG_PAD, fmt_fixed(b1, sizeof(b1), FG_CHAR_W, 1),
		total ? total : 1);
	fputs(fg_script, f);
	fputs("]]></script>\n", f);
	fprintf(f, "<rect x=\"0\" y=\"0\" width=\"%u\" height=\"%u\" "
		"fill=\"#f8f8f0\"/>\n", width, height);
	fprintf(f, "<text id=\"title\" x=\"%s\" y=\"24\">",
		fmt_fixed(b1, sizeof(b1), width / 2.0, 1));
	xml_put(f, title, SIZE_MAX);
	fprintf(f, "</text>\n<text id=\"subtitle\" x=\"%s\" y=\"44\">",
		fmt_fixed(b1, sizeof(b1), width / 2.0, 1));
	xml_put(f, subtitle, SIZE_MAX);
	if (l->pruned_nodes) {
		double share = 100.0 * (double)l->pruned_weight / (double)total;

		fprintf(f, "%s%s frames (%s%s%%) narrower than %s px pruned",
			subtitle && *subtitle ? "; " : "",
			fmt_count(b1, sizeof(b1), l->pruned_nodes),
			share < 0.05 ? "&lt;" : "",
			fmt_fixed(b2, sizeof(b2), share < 0.05 ? 0.1 : share, 1),
			(fmt_fixed(b3, sizeof(b3), min_px, 2), fmt_trim(b3)));
	}
	fprintf(f, "</text>\n"
		"<text id=\"unzoom\" class=\"hide\" x=\"%d\" y=\"24\">Reset Zoom</text>\n"
		"<text id=\"search\" x=\"%u\" y=\"24\">Search</text>\n"
		"<text id=\"details\" x=\"%d\" y=\"%u\"> </text>\n"
		"<text id=\"matched\" x=\"%u\" y=\"%u\"> </text>\n",
		FG_PAD, width - FG_PAD, FG_PAD, height - 10,
		width - FG_PAD, height - 10);
}

static void svg_frame(FILE *f, const struct profile *p,
		      const struct fg_item *it, double scale, uint64_t total,
		      unsigned height, const char *unit)
{
	static const struct frame root = { "all", "", FRAME_KIND_NR };
	const struct pnode *n = profile_node(p, it->node);
	const struct frame *fr = it->node ? profile_frame(p, n->frame) : &root;
	double x = FG_PAD + (double)it->x * scale;
	double w = (double)n->total * scale;
	unsigned y = height - FG_BOTTOM - (it->depth + 1) * FG_FRAME_H;
	double fit = (w - 6) / FG_CHAR_W;
	size_t chars = utf8_chars(fr->name), avail = fit > 0 ? (size_t)fit : 0;
	char b1[32], b2[32];
	int rgb[3];

	if (it->node)
		frame_colour(fr, rgb);
	else
		rgb[0] = rgb[1] = rgb[2] = 200;
	fprintf(f, "<g data-x=\"%" PRIu64 "\" data-w=\"%" PRIu64 "\"%s><title>",
		it->x, n->total, it->node ? "" : " data-r=\"1\"");
	xml_put(f, fr->name, SIZE_MAX);
	fprintf(f, " (%s ", fmt_count(b1, sizeof(b1), n->total));
	xml_put(f, unit, SIZE_MAX);
	fprintf(f, ", %s%%)", fmt_fixed(b2, sizeof(b2),
					100.0 * (double)n->total / (double)total,
					2));
	if (it->node) {
		fprintf(f, "\n%s", frame_kind_name(fr->kind));
		if (*fr->dso) {
			fputs(", ", f);
			xml_put(f, fr->dso, SIZE_MAX);
		}
	}
	fprintf(f, "</title><rect x=\"%s\" y=\"%u\" width=\"%s\" height=\"%d\" "
		"rx=\"2\" fill=\"rgb(%d,%d,%d)\"/>",
		fmt_fixed(b1, sizeof(b1), x, 2), y,
		fmt_fixed(b2, sizeof(b2), w, 2), FG_FRAME_H - 1,
		rgb[0], rgb[1], rgb[2]);
	if (chars <= avail || avail >= 3) {
		fprintf(f, "<text x=\"%s\" y=\"%u.5\">",
			fmt_fixed(b1, sizeof(b1), x + 3, 2), y + 11);
		if (chars <= avail) {
			xml_put(f, fr->name, SIZE_MAX);
		} else {
			xml_put(f, fr->name, avail - 2);
			fputs("..", f);
		}
		fputs("</text>", f);
	}
	fputs("</g>\n", f);
}

int flamegraph_write(FILE *f, const struct profile *p,
		     const struct flamegraph_opts *opts)
{
	static const struct flamegraph_opts defaults = { 0 };
	const struct flamegraph_opts *o = opts ? opts : &defaults;
	struct fg_layout l = { 0 };
	unsigned width = o->width ? o->width : 1200, height;
	double min_px = o->min_width_px > 0 ? o->min_width_px : 0.1;
	const char *unit = o->unit && *o->unit ? o->unit : "samples";
	uint64_t total = profile_total(p);
	double scale;
	size_t i;
	int err = 0;

	if (width < 200)
		width = 200;
	if (width > 100000)
		width = 100000;
	scale = total ? (double)(width - 2 * FG_PAD) / (double)total : 0;
	if (total) {
		err = layout_build(p, min_px / scale, &l);
		if (err)
			goto out;
	}
	if (l.max_depth > (UINT32_MAX - FG_TOP - FG_BOTTOM) / FG_FRAME_H - 1) {
		err = -PM_ELIMIT;
		goto out;
	}
	height = FG_TOP + FG_BOTTOM + (l.max_depth + 1) * FG_FRAME_H;
	svg_head(f, width, height, total,
		 o->title ? o->title : "Flame Graph", o->subtitle, &l, min_px);
	fputs("<g id=\"frames\">\n", f);
	for (i = 0; i < l.nr; i++)
		svg_frame(f, p, &l.items[i], scale, total, height, unit);
	fputs("</g>\n", f);
	if (!total)
		fprintf(f, "<text x=\"%u\" y=\"%d\" text-anchor=\"middle\">"
			"No samples</text>\n", width / 2,
			FG_TOP + FG_FRAME_H - 4);
	fputs("</svg>\n", f);
	if (fflush(f) || ferror(f))
		err = -PM_EIO;
out:
	free(l.items);
	return err;
}
