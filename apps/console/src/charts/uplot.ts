// uPlot and its stylesheet, loaded on demand (TimeChart imports this module dynamically): only the
// admin page draws charts, so every other page spares the ~50 kB. Vite puts the CSS in its own
// file beside the chunk and loads it with a <link>, which the page's CSP allows (no inline style).
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

export default uPlot
