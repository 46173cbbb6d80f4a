// The op set: importing this module defines every Tensor method, each in its own op file (see
// define.ts). A new op file joins the set here.
import './attention.js';
import './clamp.js';
import './cumsum.js';
import './elementwise.js';
import './flatten.js';
import './indexing.js';
import './inPlace.js';
import './join.js';
import './maskedFill.js';
import './matmul.js';
import './oneHot.js';
import './predicates.js';
import './reduce.js';
import './rounding.js';
import './softmax.js';
import './sort.js';
import './split.js';
import './stats.js';
import './triangular.js';
import './view.js';
