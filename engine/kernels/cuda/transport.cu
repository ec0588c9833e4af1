// Fused transport kernels for the GPU: the advective sweeps, horizontal diffusion and explicit
// vertical diffusion of engine.transport.step.Transport, with the same arithmetic, in the same
// order, as the NumPy reference and the Numba kernels (engine/kernels/numba_fused.py).
//
// Compiled by NVRTC through CuPy (engine/kernels/cuda_fused.py) with
//   -DREAL=float|double     the working precision
//   -DLIMITER=0..4          upwind, minmod, mc, superbee, vanleer (engine.transport.advection.LIMITER_CODES)
//   -DREAL_TINY=<literal>   the smallest normal number of REAL (van Leer's guard)
//   --fmad=false            no contraction of a*b+c into one rounding: the reference rounds twice
// and by the host C++ compiler for verification on machines without a GPU
// (engine/kernels/cuda_kernels.py, HostKernels): the column kernels share nothing between
// threads, and the tiled kernels are written in phases between barriers that the host build runs
// as loops over a block's threads (BLOCK_PHASE, below), so running the threads one after another
// is the same computation.
//
// Layouts (C order): a field is (fields = member*species, nz, ny, nx); u (members, nz, ny|1, nx+1),
// v (members, nz, ny+1|1, nx), w (members, nz+1, ny|1, nx), where one row per level (a
// horizontally uniform, "layered" wind) is flagged by *_full = 0.
//
// The step runs as one tiled kernel (tiled_step_even/_odd, tiled_step_z_even/_odd, at the end of
// this file): a block carries a tile of every level of a field through all sweeps and diffusion
// in shared memory. The column kernels are a second schedule of the same computation, kept to
// check the first against; each marches one thread along one axis, keeping the cells it needs
// again in registers:
//   sweep_xy  thread per (field, level, column), along y: the x sweep of each row, then the y sweep
//   sweep_yx  thread per (field, level, column), along y: the y sweep of the 5 columns around it,
//             then the x sweep of its cell
//   sweep_z   thread per (field, row, column), along z
//   diffuse   thread per (field, row, column), along z: horizontal diffusion of each level, then
//             forward-Euler vertical diffusion with implicit deposition of the level below it
// vertical_implicit is the implicit vertical solve, a thread per column. Boundary outflow
// (concentration * m^3 per unit time) goes into one float64 partial per thread, summed
// afterwards: no atomics, so the sums are deterministic.

#ifndef REAL
#define REAL float
#endif
#ifndef LIMITER
#define LIMITER 1
#endif
#ifndef REAL_TINY
#define REAL_TINY 0x1p-126
#endif

typedef REAL real;
typedef long long index_t;

#define ZERO ((real)0)
#define HALF ((real)0.5)
#define ONE ((real)1)
#define TWO ((real)2)

__device__ __forceinline__ real rmin(real a, real b) { return a < b ? a : b; }
__device__ __forceinline__ real rmax(real a, real b) { return a > b ? a : b; }
__device__ __forceinline__ real rsign(real b) { return b > ZERO ? ONE : (b < ZERO ? -ONE : ZERO); }
__device__ __forceinline__ real rabs(real a) { return a < ZERO ? -a : a; }

// phi(a/b) * b of engine.transport.advection.limited_slope, branch-free for a constant LIMITER.
__device__ __forceinline__ real slope(real a, real b)
{
#if LIMITER == 0
    return ZERO;
#elif LIMITER == 1
    return rmax(rmin(a, b), ZERO) + rmin(rmax(a, b), ZERO);
#elif LIMITER == 2
    real twice_a = TWO * a;
    real twice_b = TWO * b;
    real mean = HALF * (a + b);
    return rmax(rmin(rmin(twice_a, twice_b), mean), ZERO) + rmin(rmax(rmax(twice_a, twice_b), mean), ZERO);
#elif LIMITER == 3
    real sign = rsign(b);
    real sa = a * sign;
    real sb = b * sign;
    return sign * rmax(ZERO, rmax(rmin(TWO * sa, sb), rmin(sa, TWO * sb)));
#else
    real sign = rsign(b);
    real sa = a * sign;
    real sb = b * sign;
    real num = sa * sb + rabs(sa * sb);
    return sign * num / rmax(sa + sb, (real)(REAL_TINY));
#endif
}

// The limited slope of a cell from its two neighbours along the sweep. Every limiter is symmetric
// and odd in IEEE arithmetic, so the slope a face's downwind half needs is minus its right cell's.
__device__ __forceinline__ real cell_slope(real below, real here, real above)
{
    return slope(here - below, above - here);
}

// Limited Lax-Wendroff flux through a face with velocity u between cells left and right, from
// their slopes (cell_slope); rate_* = dt / width of the cell on each side.
__device__ __forceinline__ real face_flux(real u, real left, real slope_left, real right, real slope_right,
                                          real rate_left, real rate_right)
{
    real up = rmax(u, ZERO);
    real down = rmin(u, ZERO);
    real gain_up = HALF * (ONE - up * rate_left);
    real gain_down = HALF * (ONE + down * rate_right);
    return up * (left + gain_up * slope_left) + down * (right - gain_down * slope_right);
}

// A cell after one sweep; correction = c_ref * du/dx of the multi-dimensional scheme, or 0.
__device__ __forceinline__ real swept(real value, real flux_low, real flux_high, real inverse_width, real step,
                                      real correction)
{
    return value - step * ((flux_high - flux_low) * inverse_width - correction);
}

// The x sweep of the middle one of five cells c (cells i-2 .. i+2 of a row, ghosts included)
// between faces with velocities u_low and u_high; their fluxes are returned through the pointers.
__device__ __forceinline__ real x_update(const real* c, real u_low, real u_high, real rate, real inverse_width,
                                         real step, real correction, real* flux_low, real* flux_high)
{
    real s_west = cell_slope(c[0], c[1], c[2]);
    real s_here = cell_slope(c[1], c[2], c[3]);
    real s_east = cell_slope(c[2], c[3], c[4]);
    *flux_low = face_flux(u_low, c[1], s_west, c[2], s_here, rate, rate);
    *flux_high = face_flux(u_high, c[2], s_here, c[3], s_east, rate, rate);
    return swept(c[2], *flux_low, *flux_high, inverse_width, step, correction);
}

// What the x sweep of column i of any row of one plane needs.
struct RowSweep {
    const real* src;   // the plane's cells (ny, nx)
    const real* ref;   // the plane at the start of the step, for the correction
    const real* div;   // du/dx of the plane, for the correction
    const real* u;     // the face velocities of the plane's first row
    index_t u_stride;  // nx + 1 for a full wind, 0 for a layered one
    int correct, nx, i;
    real bg, step, rate, inverse_width;
    double net;        // outflow through the x boundary faces of this column's rows so far
};

// Row r's cell of the column, x-swept (ghost cells: bg where the boundary face lets air in, else
// the edge cell); the boundary faces' fluxes are added to x->net.
__device__ __forceinline__ real row_swept(RowSweep* x, int r)
{
    const real* row = x->src + (index_t)r * x->nx;
    const real* u_row = x->u + r * x->u_stride;
    int nx = x->nx;
    int i = x->i;
    real low = u_row[0] > ZERO ? x->bg : row[0];
    real high = u_row[nx] < ZERO ? x->bg : row[nx - 1];
    real c[5];
#pragma unroll
    for (int d = 0; d < 5; ++d) {
        int at = i + d - 2;
        c[d] = at < 0 ? low : (at >= nx ? high : row[at]);
    }
    real correction = x->correct ? x->ref[(index_t)r * nx + i] * x->div[(index_t)r * nx + i] : ZERO;
    real flux_low, flux_high;
    real value = x_update(c, u_row[i], u_row[i + 1], x->rate, x->inverse_width, x->step, correction, &flux_low,
                          &flux_high);
    if (i == 0) x->net -= (double)flux_low;
    if (i == nx - 1) x->net += (double)flux_high;
    return value;
}

// One column's sweep along a marched axis: cells j-2 .. j+2 of the column, the slopes of j-1
// and j and the flux through the face below j are kept, so each is computed once.
struct ColumnSweep {
    real a, b, c, d, e;           // cells j-2 .. j+2
    real slope_below, slope_here;  // slopes of cells j-1, j
    real flux_low;                 // flux through the face between j-1 and j
};

// Starts a column at j = 0 from its first cells (ghosts where the column is shorter than 3).
__device__ __forceinline__ void column_start(ColumnSweep* s, real ghost_low, real c0, real c1, real c2,
                                             real u_face0, real rate_left, real rate_right)
{
    s->a = ghost_low;
    s->b = ghost_low;
    s->c = c0;
    s->d = c1;
    s->e = c2;
    s->slope_below = cell_slope(s->a, s->b, s->c);
    s->slope_here = cell_slope(s->b, s->c, s->d);
    s->flux_low = face_flux(u_face0, s->b, s->slope_below, s->c, s->slope_here, rate_left, rate_right);
}

// The swept value of cell j (the column's current cell) through the face above it with
// velocity u_high; *flux_high receives that face's flux. Then the column moves on by one cell,
// taking next (cell j+3, or a ghost) in.
__device__ __forceinline__ real column_step(ColumnSweep* s, real u_high, real rate_left, real rate_right,
                                            real inverse_width, real step, real correction, real next,
                                            real* flux_high)
{
    real slope_above = cell_slope(s->c, s->d, s->e);
    real high = face_flux(u_high, s->c, s->slope_here, s->d, slope_above, rate_left, rate_right);
    real value = swept(s->c, s->flux_low, high, inverse_width, step, correction);
    *flux_high = high;
    s->a = s->b;
    s->b = s->c;
    s->c = s->d;
    s->d = s->e;
    s->e = next;
    s->slope_below = s->slope_here;
    s->slope_here = slope_above;
    s->flux_low = high;
    return value;
}

__device__ __forceinline__ index_t plane_offset(int field, int k, int nz, int ny, int nx)
{
    return ((index_t)field * nz + k) * ny * nx;
}

// Velocity row of face-row `row` (a y face index for v, a cell row for u and w) of level k.
__device__ __forceinline__ index_t velocity_row(int member, int k, int levels, int row, int full, int rows,
                                                int width)
{
    return (((index_t)member * levels + k) * (full ? rows : 1) + (full ? row : 0)) * width;
}


// The parameters of sweep_xy and sweep_yx (the wrapper launches either with the same arguments).
#define PLANE_SWEEP_PARAMETERS                                                                          \
    const real *__restrict__ src, const real *__restrict__ ref, real *__restrict__ dst,                 \
        const real *__restrict__ u, int u_full, const real *__restrict__ v, int v_full,                 \
        const real *__restrict__ div_x, const real *__restrict__ div_y, int correct,                    \
        const real *__restrict__ background, int species, int nz, int ny, int nx, real step,            \
        real rate_x, real rate_y, real inverse_dx, real inverse_dy, double dx, double dy,               \
        const double *__restrict__ dz, double *__restrict__ outflow

// Their common opening: thread (i, k, field) of grid (ceil(nx / block), nz, fields), leaving if
// its column is beyond the plane; the field's member and background, the offsets of its plane in
// the fields and in the correction terms.
#define PLANE_SWEEP_THREAD                                                                              \
    int i = blockIdx.x * blockDim.x + threadIdx.x;                                                      \
    int k = blockIdx.y;                                                                                 \
    int field = blockIdx.z;                                                                             \
    if (i >= nx) return;                                                                                \
    int member = field / species;                                                                       \
    real bg = background[field % species];                                                              \
    index_t plane = plane_offset(field, k, nz, ny, nx);                                                 \
    index_t corrections = plane_offset(member, k, nz, ny, nx);

// Even steps: the x sweep then the y sweep of plane k. Thread (i, k, field); grid
// (ceil(nx / block), nz, fields). The y sweep's ghost rows come from the x-swept edge rows, which
// are swept first; every other row is x-swept as it enters the column, once.
extern "C" __global__ void sweep_xy(PLANE_SWEEP_PARAMETERS)
{
    PLANE_SWEEP_THREAD
    RowSweep x;
    x.src = src + plane;
    x.ref = ref + plane;
    x.div = div_x + (correct ? corrections : 0);
    x.u = u + velocity_row(member, k, nz, 0, u_full, ny, nx + 1);
    x.u_stride = u_full ? nx + 1 : 0;
    x.correct = correct;
    x.nx = nx;
    x.i = i;
    x.bg = bg;
    x.step = step;
    x.rate = rate_x;
    x.inverse_width = inverse_dx;
    x.net = 0.0;
    const real* v_plane = v + velocity_row(member, k, nz, 0, v_full, ny + 1, nx);
    index_t v_stride = v_full ? nx : 0;
    real first = row_swept(&x, 0);
    real last = ny > 1 ? row_swept(&x, ny - 1) : first;
    real ghost_low = v_plane[i] > ZERO ? bg : first;
    real ghost_high = v_plane[ny * v_stride + i] < ZERO ? bg : last;
#define X_ROW(r) ((r) >= ny ? ghost_high : ((r) == ny - 1 ? last : row_swept(&x, (r))))
    ColumnSweep column;
    real second = X_ROW(1);
    real third = X_ROW(2);
    column_start(&column, ghost_low, first, second, third, v_plane[i], rate_y, rate_y);
    double net_y = -(double)column.flux_low;
    for (int j = 0; j < ny; ++j) {
        real next = X_ROW(j + 3);
        real correction = correct ? ref[plane + (index_t)j * nx + i] * div_y[corrections + (index_t)j * nx + i]
                                  : ZERO;
        real flux_high;
        real value = column_step(&column, v_plane[(j + 1) * v_stride + i], rate_y, rate_y, inverse_dy, step,
                                 correction, next, &flux_high);
        dst[plane + (index_t)j * nx + i] = value;
        if (j == ny - 1) net_y += (double)flux_high;
    }
#undef X_ROW
    outflow[((index_t)field * nz + k) * nx + i] = dz[k] * (x.net * dy + net_y * dx);
}

// Odd steps: the y sweep then the x sweep of plane k. Thread (i, k, field); grid as sweep_xy.
// The thread y-sweeps the five columns i-2 .. i+2 (those inside the plane) as it marches, then
// x-sweeps its own cell of each row from them: five times the y work, no intermediate plane.
extern "C" __global__ void sweep_yx(PLANE_SWEEP_PARAMETERS)
{
    PLANE_SWEEP_THREAD
    const real* cells = src + plane;
    const real* u_plane = u + velocity_row(member, k, nz, 0, u_full, ny, nx + 1);
    index_t u_stride = u_full ? nx + 1 : 0;
    const real* v_plane = v + velocity_row(member, k, nz, 0, v_full, ny + 1, nx);
    index_t v_stride = v_full ? nx : 0;
    ColumnSweep columns[5];
    real ghost_high[5];
#pragma unroll
    for (int d = 0; d < 5; ++d) {
        int col = i + d - 2;
        ghost_high[d] = ZERO;
        if (col < 0 || col >= nx) continue;
        real low = v_plane[col] > ZERO ? bg : cells[col];
        ghost_high[d] = v_plane[ny * v_stride + col] < ZERO ? bg : cells[(index_t)(ny - 1) * nx + col];
        real c1 = ny > 1 ? cells[nx + col] : ghost_high[d];
        real c2 = ny > 2 ? cells[2 * (index_t)nx + col] : ghost_high[d];
        column_start(&columns[d], low, cells[col], c1, c2, v_plane[col], rate_y, rate_y);
    }
    double net_x = 0.0;
    double net_y = -(double)columns[2].flux_low;
    for (int j = 0; j < ny; ++j) {
        real y[5];
#pragma unroll
        for (int d = 0; d < 5; ++d) {
            int col = i + d - 2;
            y[d] = ZERO;
            if (col < 0 || col >= nx) continue;
            real next = j + 3 < ny ? cells[(index_t)(j + 3) * nx + col] : ghost_high[d];
            real correction = correct ? ref[plane + (index_t)j * nx + col] * div_y[corrections + (index_t)j * nx + col]
                                      : ZERO;
            real flux_high;
            y[d] = column_step(&columns[d], v_plane[(j + 1) * v_stride + col], rate_y, rate_y, inverse_dy, step,
                               correction, next, &flux_high);
            if (d == 2 && j == ny - 1) net_y += (double)flux_high;
        }
        const real* u_row = u_plane + j * u_stride;
        real low = ZERO;
        real high = ZERO;
        if (i < 2) low = u_row[0] > ZERO ? bg : y[2 - i];
        if (i + 2 >= nx) high = u_row[nx] < ZERO ? bg : y[nx + 1 - i];
        real c[5];
#pragma unroll
        for (int d = 0; d < 5; ++d) {
            int col = i + d - 2;
            c[d] = col < 0 ? low : (col >= nx ? high : y[d]);
        }
        real correction = correct ? ref[plane + (index_t)j * nx + i] * div_x[corrections + (index_t)j * nx + i] : ZERO;
        real flux_low, flux_high;
        real value = x_update(c, u_row[i], u_row[i + 1], rate_x, inverse_dx, step, correction, &flux_low, &flux_high);
        dst[plane + (index_t)j * nx + i] = value;
        if (i == 0) net_x -= (double)flux_low;
        if (i == nx - 1) net_x += (double)flux_high;
    }
    outflow[((index_t)field * nz + k) * nx + i] = dz[k] * (net_x * dy + net_y * dx);
}

// The z sweep. Thread (i, j, field); grid (ceil(nx / block), ny, fields). rates_z = dt / dz per
// level; dz_real the level thicknesses (m) in the working precision.
extern "C" __global__ void sweep_z(const real* __restrict__ src, const real* __restrict__ ref,
                                   real* __restrict__ dst, const real* __restrict__ w, int w_full,
                                   const real* __restrict__ div_z, int correct, const real* __restrict__ background,
                                   int species, int nz, int ny, int nx, real step, const real* __restrict__ rates_z,
                                   const real* __restrict__ dz_real, double dx, double dy,
                                   double* __restrict__ outflow)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int j = blockIdx.y;
    int field = blockIdx.z;
    if (i >= nx) return;
    int member = field / species;
    real bg = background[field % species];
    index_t level = (index_t)ny * nx;
    index_t column = plane_offset(field, 0, nz, ny, nx) + (index_t)j * nx + i;
    index_t corrections = plane_offset(member, 0, nz, ny, nx) + (index_t)j * nx + i;
    const real* w_column = w + velocity_row(member, 0, nz + 1, j, w_full, ny, nx) + i;
    index_t w_stride = w_full ? level : nx;
    real ghost_low = w_column[0] > ZERO ? bg : src[column];
    real ghost_high = w_column[nz * w_stride] < ZERO ? bg : src[column + (nz - 1) * level];
    real c1 = nz > 1 ? src[column + level] : ghost_high;
    real c2 = nz > 2 ? src[column + 2 * level] : ghost_high;
    ColumnSweep sweep;
    column_start(&sweep, ghost_low, src[column], c1, c2, w_column[0], rates_z[0], rates_z[0]);
    double net = -(double)sweep.flux_low;
    for (int k = 0; k < nz; ++k) {
        real next = k + 3 < nz ? src[column + (k + 3) * level] : ghost_high;
        real correction = correct ? ref[column + k * level] * div_z[corrections + k * level] : ZERO;
        real flux_high;
        real value = column_step(&sweep, w_column[(k + 1) * w_stride], rates_z[k], rates_z[k + 1 < nz ? k + 1 : nz - 1],
                                 ONE / dz_real[k], step, correction, next, &flux_high);
        dst[column + k * level] = value;
        if (k == nz - 1) net += (double)flux_high;
    }
    outflow[((index_t)field * ny + j) * nx + i] = dx * dy * net;
}

// Explicit horizontal diffusion of cell (j, i) of a plane, the reference's order of operations:
// a missing neighbour at the domain edge, or a closed face (masks), contributes a zero flux.
// `centre` points at the cell, its rows `stride` apart (the plane's nx, or a tile's width); the
// masks open_x (ny, nx-1) and open_y (ny-1, nx) are the level's.
__device__ __forceinline__ real horizontal(const real* centre, index_t stride, int j, int i, int ny, int nx, real kk,
                                           real gain_x, real gain_y, int use_masks, const real* open_x,
                                           const real* open_y)
{
    real value = centre[0];
    real east = i < nx - 1 ? kk * (centre[1] - value) : ZERO;
    real west = i > 0 ? kk * (value - centre[-1]) : ZERO;
    real up = kk * ((j < ny - 1 ? centre[stride] : value) - value);
    real down = kk * (value - (j > 0 ? centre[-stride] : value));
    if (use_masks) {
        index_t at = (index_t)j * nx + i;
        east = i < nx - 1 ? east * open_x[(index_t)j * (nx - 1) + i] : ZERO;
        west = i > 0 ? west * open_x[(index_t)j * (nx - 1) + i - 1] : ZERO;
        up = j < ny - 1 ? up * open_y[at] : ZERO;
        down = j > 0 ? down * open_y[at - nx] : ZERO;
    }
    return value + gain_x * east - gain_x * west + gain_y * up - gain_y * down;
}

// Forward-Euler vertical diffusion of level k's cell (j, i) from its horizontally diffused value
// and those of the levels above and below (the cell's own at the top and the bottom), then
// deposition implicit in time; arrays as for `diffuse`. With flush, a subnormal result is 0.
__device__ __forceinline__ real vertical_cell(real here, real above, real below, int k, int nz, int member, int kind,
                                              int faces, const real* conductance, int conductance_full,
                                              const real* deposition, int deposition_full,
                                              const unsigned char* depositing, const real* dz_real, real step, int j,
                                              int i, int ny, int nx, int flush)
{
    index_t level = (index_t)ny * nx;
    index_t cell = (index_t)j * nx + i;
    index_t column_cells = conductance_full ? level : 1;
    index_t column_at = conductance_full ? cell : 0;
    index_t deposition_cells = deposition_full ? level : 1;
    index_t deposition_at = deposition_full ? cell : 0;
    real inverse_width = ONE / dz_real[k];
    int up = k < nz - 2 ? k : (nz - 2 > 0 ? nz - 2 : 0);
    int down = k > 0 ? k - 1 : 0;
    real gain_up = step * conductance[((index_t)member * faces + up) * column_cells + column_at];
    real gain_down = step * conductance[((index_t)member * faces + down) * column_cells + column_at];
    real keep = depositing[kind * nz + k]
                    ? ONE + step * deposition[((index_t)kind * nz + k) * deposition_cells + deposition_at]
                    : ONE;
    real value = (here + gain_up * (above - here) * inverse_width - gain_down * (here - below) * inverse_width) / keep;
    if (flush && rabs(value) < (real)(REAL_TINY)) value = ZERO;
    return value;
}

// Horizontal diffusion of every level (use_horizontal), then, with `vertical`, forward-Euler
// vertical diffusion with deposition implicit in time, the order of
// engine.transport.diffusion.VerticalDiffusionSolver.explicit. Thread (i, j, field); grid as
// sweep_z. kh (members, nz) m^2/s; gains dt/dx^2, dt/dy^2; open_x (nz, ny, nx-1) and open_y
// (nz, ny-1, nx) 0/1 face masks; conductance Kz/dz_c (members, max(nz-1, 1), ny|1, nx|1) m/s;
// deposition vd/dz (species, nz, ny|1, nx|1) 1/s; depositing (species, nz): any rate > 0;
// flush: results below the smallest normal number in magnitude become 0 (Transport's flush of
// subnormals, when nothing else follows in the step).
extern "C" __global__ void diffuse(const real* __restrict__ src, real* __restrict__ dst, int species, int nz, int ny,
                                   int nx, int use_horizontal, const real* __restrict__ kh, real gain_x, real gain_y,
                                   int use_masks, const real* __restrict__ open_x, const real* __restrict__ open_y,
                                   int vertical, const real* __restrict__ conductance, int conductance_full,
                                   const real* __restrict__ deposition, int deposition_full,
                                   const unsigned char* __restrict__ depositing, const real* __restrict__ dz_real,
                                   real step, int flush)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int j = blockIdx.y;
    int field = blockIdx.z;
    if (i >= nx) return;
    int member = field / species;
    int kind = field % species;
    index_t level = (index_t)ny * nx;
    index_t first = plane_offset(field, 0, nz, ny, nx);
    index_t cell = (index_t)j * nx + i;
    int faces = nz > 1 ? nz - 1 : 1;
#define H(k) (use_horizontal ? horizontal(src + first + (k) * level + cell, nx, j, i, ny, nx, kh[member * nz + (k)], gain_x, \
                                          gain_y, use_masks, open_x + (use_masks ? (k) * (index_t)ny * (nx - 1) : 0), \
                                          open_y + (use_masks ? (k) * (index_t)(ny - 1) * nx : 0)) \
                             : src[first + (k) * level + cell])
    real here = H(0);
    real below = here;
    for (int k = 0; k < nz; ++k) {
        real above = k < nz - 1 ? H(k + 1) : here;
        real value = here;
        if (vertical) {
            value = vertical_cell(here, above, below, k, nz, member, kind, faces, conductance, conductance_full,
                                  deposition, deposition_full, depositing, dz_real, step, j, i, ny, nx, flush);
        } else if (flush && rabs(value) < (real)(REAL_TINY)) {
            value = ZERO;
        }
        dst[first + k * level + cell] = value;
        below = here;
        here = above;
    }
#undef H
}

// The flux-form update of one level from the implicit solution at it and its neighbours
// (VerticalDiffusionSolver._flux_form_update; numba_diffusion._flux_form_level).
__device__ __forceinline__ real flux_form(real value, real below, real here, real above, int k, int nz, real gain_up,
                                          real gain_down, real loss, int use_deposition, real inverse_width)
{
    if (k < nz - 1) value = value + gain_up * (above - here) * inverse_width;
    if (k > 0) value = value - gain_down * (here - below) * inverse_width;
    if (use_deposition) value = value - loss * here;
    return value;
}

// Backward-Euler vertical diffusion with deposition (VerticalDiffusionSolver.solve): Thomas
// elimination down the column into dst, then back substitution with each level's flux-form
// update one level behind it, so the update conserves mass to round-off. Thread (i, j, field);
// grid as sweep_z. The coefficient arrays (lower, inv_pivot, upper_ratio: (members|1, species|1,
// nz, cols); conductance Kz/dz_c (members|1, max(nz-1, 1), cols); deposition vd/dz
// (members|1, species|1, nz, cols)) have cols = ny*nx where `full` (solids), else 1;
// *_members and *_species give their leading extents.
extern "C" __global__ void vertical_implicit(const real* __restrict__ src, real* __restrict__ dst,
                                             const real* __restrict__ lower, const real* __restrict__ inv_pivot,
                                             const real* __restrict__ upper_ratio, int coefficient_members,
                                             int coefficient_species, const real* __restrict__ conductance,
                                             int conductance_members, const real* __restrict__ deposition,
                                             int deposition_members, int deposition_species, int use_deposition,
                                             const real* __restrict__ inverse_dz, int full, int species, int nz,
                                             int ny, int nx, real step)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    int j = blockIdx.y;
    int field = blockIdx.z;
    if (i >= nx) return;
    int member = field / species;
    int kind = field % species;
    index_t level = (index_t)ny * nx;
    index_t column = plane_offset(field, 0, nz, ny, nx) + (index_t)j * nx + i;
    index_t cols = full ? level : 1;
    index_t col = full ? (index_t)j * nx + i : 0;
    int cm = coefficient_members > 1 ? member : 0;
    int cs = coefficient_species > 1 ? kind : 0;
    index_t coefficient = ((index_t)cm * coefficient_species + cs) * nz * cols + col;
    int faces = nz > 1 ? nz - 1 : 1;
    index_t face = (index_t)(conductance_members > 1 ? member : 0) * faces * cols + col;
    int dm = deposition_members > 1 ? member : 0;
    int ds = deposition_species > 1 ? kind : 0;
    index_t rate = ((index_t)dm * deposition_species + ds) * nz * cols + col;

    real solved = src[column] * inv_pivot[coefficient];
    dst[column] = solved;
    for (int k = 1; k < nz; ++k) {
        solved = (src[column + k * level] - lower[coefficient + k * cols] * solved) * inv_pivot[coefficient + k * cols];
        dst[column + k * level] = solved;
    }
    // here: the solution at level k+1, above: at k+2 (once it exists).
    real here = solved;
    real above = ZERO;
    for (int k = nz - 2; k >= -1; --k) {
        real below = ZERO;
        if (k >= 0) below = dst[column + k * level] - upper_ratio[coefficient + k * cols] * here;
        int finish = k + 1;  // level k+1 has its neighbours' solutions now
        int up = finish < nz - 2 ? finish : (nz - 2 > 0 ? nz - 2 : 0);
        int down = finish > 0 ? finish - 1 : 0;
        real value = flux_form(src[column + finish * level], below, here, above, finish, nz,
                               step * conductance[face + up * cols], step * conductance[face + down * cols],
                               step * deposition[rate + finish * cols], use_deposition, inverse_dz[finish]);
        dst[column + finish * level] = value;
        above = here;
        here = below;
    }
}

// ---------------------------------------------------------------------------------------------
// The whole step in one pass where the wind has no vertical component: a block of TILE_X x
// TILE_Y threads owns that tile of every level of one field and marches up the levels; per level
// the tile and a halo of 3 cells (2 for the sweeps, 1 for diffusion) go through shared memory:
//   load -> first sweep (x, or y on odd steps) -> ghosts -> second sweep -> horizontal diffusion
// of each thread's own cell, whose vertical diffusion with deposition runs one level behind on
// values the thread keeps in registers. Each cell is read from and written to memory once per
// step; halo cells are read again by the neighbouring blocks, mostly from L2.
//
// The phases are separated by barriers. So that the host build can run it (one thread after
// another), the kernel is written in phases: BLOCK_PHASE { ... } is one thread's share on the
// device and, on the host, a loop over the block's threads; a value a thread keeps across phases
// is declared with THREAD_VALUE and read as MINE(name). Kernels written this way are named
// tiled_* and launched with TILE_THREADS threads per block.
#define TILE_X 32
#define TILE_Y 8
#define TILE_THREADS (TILE_X * TILE_Y)
#define HALO 3
#define RAW_X (TILE_X + 2 * HALO)
#define RAW_Y (TILE_Y + 2 * HALO)
#define MID_X (TILE_X + 2)
#define MID_Y (TILE_Y + 2)
// Blocks per multiprocessor the register budget must allow (ptxas caps registers per thread so):
// 3 x 256 threads in float32 (at most 85 registers), 2 in float64.
#define TILED_MIN_BLOCKS (sizeof(real) == 4 ? 3 : 2)

#ifdef HOST_SERIAL
#define BLOCK_PHASE for (int thread_ = 0; thread_ < TILE_THREADS; ++thread_)
#define THREAD thread_
#define BLOCK_SYNC
#define THREAD_VALUE(type, name) type name[TILE_THREADS]
#define MINE(name) name[thread_]
#else
#define BLOCK_PHASE
#define THREAD ((int)threadIdx.x)
#define BLOCK_SYNC __syncthreads()
#define THREAD_VALUE(type, name) type name
#define MINE(name) name
#endif

// x sweep of the cell at (r, c) of a tile whose row r holds the row's cells from column c-2 to
// c+2 (ghosts included): x_update on the five.
__device__ __forceinline__ real tile_x(const real* row, int c, real u_low, real u_high, real rate, real inverse_width,
                                       real step, real correction, real* flux_low, real* flux_high)
{
    return x_update(row + c - 2, u_low, u_high, rate, inverse_width, step, correction, flux_low, flux_high);
}

// y sweep of a cell from its column's cells j-2 .. j+2 (c0 .. c4) and the velocities of the faces
// below and above it: the same floats as column_step.
__device__ __forceinline__ real y_update(real c0, real c1, real c2, real c3, real c4, real v_low, real v_high,
                                         real rate, real inverse_width, real step, real correction, real* flux_low,
                                         real* flux_high)
{
    real s_below = cell_slope(c0, c1, c2);
    real s_here = cell_slope(c1, c2, c3);
    real s_above = cell_slope(c2, c3, c4);
    *flux_low = face_flux(v_low, c1, s_below, c2, s_here, rate, rate);
    *flux_high = face_flux(v_high, c2, s_here, c3, s_above, rate, rate);
    return swept(c2, *flux_low, *flux_high, inverse_width, step, correction);
}

// z sweep of a cell from its column's cells kz-2 .. kz+2 (c0 .. c4), the velocities of the faces
// below and above it and dt/dz of the levels around: the same floats as sweep_z's column_step.
__device__ __forceinline__ real z_update(real c0, real c1, real c2, real c3, real c4, real w_low, real w_high,
                                         real rate_below, real rate_here, real rate_above, real inverse_width,
                                         real step, real correction, real* flux_low, real* flux_high)
{
    real s_below = cell_slope(c0, c1, c2);
    real s_here = cell_slope(c1, c2, c3);
    real s_above = cell_slope(c2, c3, c4);
    *flux_low = face_flux(w_low, c1, s_below, c2, s_here, rate_below, rate_here);
    *flux_high = face_flux(w_high, c2, s_here, c3, s_above, rate_here, rate_above);
    return swept(c2, *flux_low, *flux_high, inverse_width, step, correction);
}

#define RING 5  // levels kz-2 .. kz+2 of the z sweep's window

// The body of the tiled kernels. ORDER 0 (even steps): x, y [, z] sweeps; 1 (odd steps): [z,] y,
// x; then horizontal diffusion (use_horizontal) and, with `vertical`, forward-Euler vertical
// diffusion with deposition as `diffuse` does. With Z (a vertical wind) the z sweep of level kz
// needs levels kz-2 .. kz+2 of its input, so the block keeps a ring of five levels in shared
// memory (ORDER 0: the tile after the x and y sweeps, with the diffusion halo; ORDER 1: the raw
// tile with the sweeps' halo) and sweeps z two levels behind the levels it takes in.
//
// Grid (ceil(nx / TILE_X), ceil(ny / TILE_Y), fields * segments), TILE_THREADS threads per
// block: a block writes levels [s * segment_levels, (s + 1) * segment_levels) of its tile
// (segments give a single field enough blocks to fill the device), computing the levels beside
// them that the vertical step and the z sweep need; outflow (fields * segments, ny, nx) receives
// each column's boundary outflow over the block's levels. w (members, nz+1, ny|1, nx), div_z and
// rates_z (dt/dz per level) are read only with Z.
// The shared memory of a tiled block: declared once in each kernel and handed to both orders'
// instantiations, which would otherwise each get their own (and float64 would not fit).
template <bool Z>
struct TileMemory {
    real ring[Z ? RING : 1][RAW_Y][RAW_X];  // ORDER 0: x-y swept (MID region); 1: raw cells
    real raw[RAW_Y][RAW_X];                 // the level's cells around the tile (ORDER 1 with Z: z-swept)
    real first[RAW_Y][RAW_X];               // after the first horizontal sweep, same coordinates
    real second[MID_Y][MID_X];              // after all the sweeps (tile coordinates + 1)
    real x_low[TILE_Y], x_high[TILE_Y], y_low[TILE_X], y_high[TILE_X];  // boundary fluxes
    real z_low[Z ? TILE_Y : 1][TILE_X], z_high[Z ? TILE_Y : 1][TILE_X];
};

template <int ORDER, bool Z>
__device__ __forceinline__ void tiled(
    TileMemory<Z>& memory, const real* __restrict__ src, real* __restrict__ dst, const real* __restrict__ u, int u_full,
    const real* __restrict__ v, int v_full, const real* __restrict__ w, int w_full, const real* __restrict__ div_x,
    const real* __restrict__ div_y, const real* __restrict__ div_z, int correct, const real* __restrict__ background,
    int species, int nz, int ny, int nx, real step, real rate_x, real rate_y, const real* __restrict__ rates_z,
    real inverse_dx, real inverse_dy, double dx, double dy, const double* __restrict__ dz, int use_horizontal,
    const real* __restrict__ kh, real gain_x, real gain_y, int use_masks, const real* __restrict__ open_x,
    const real* __restrict__ open_y, int vertical, const real* __restrict__ conductance, int conductance_full,
    const real* __restrict__ deposition, int deposition_full, const unsigned char* __restrict__ depositing,
    const real* __restrict__ dz_real, int flush, int segment_levels, double* __restrict__ outflow)
{
    real(&ring)[Z ? RING : 1][RAW_Y][RAW_X] = memory.ring;
    real(&raw)[RAW_Y][RAW_X] = memory.raw;
    real(&first)[RAW_Y][RAW_X] = memory.first;
    real(&second)[MID_Y][MID_X] = memory.second;
    real(&x_low)[TILE_Y] = memory.x_low;
    real(&x_high)[TILE_Y] = memory.x_high;
    real(&y_low)[TILE_X] = memory.y_low;
    real(&y_high)[TILE_X] = memory.y_high;
    real(&z_low)[Z ? TILE_Y : 1][TILE_X] = memory.z_low;
    real(&z_high)[Z ? TILE_Y : 1][TILE_X] = memory.z_high;
    THREAD_VALUE(real, below);
    THREAD_VALUE(real, here);
    THREAD_VALUE(double, net);
    const int lag = Z ? 2 : 0;  // levels between the one taken in and the one finished
    const int i0 = blockIdx.x * TILE_X;
    const int j0 = blockIdx.y * TILE_Y;
    const int segments = (nz + segment_levels - 1) / segment_levels;
    const int field = blockIdx.z / segments;
    const int k0 = (blockIdx.z % segments) * segment_levels;
    const int k1 = k0 + segment_levels < nz ? k0 + segment_levels : nz;
    const int h0 = vertical && k0 > 0 ? k0 - 1 : k0;  // levels diffused: those written and their neighbours
    const int h1 = vertical && k1 < nz ? k1 + 1 : k1;
    const int a0 = h0 - lag > 0 ? h0 - lag : 0;  // levels taken in: the z sweep's window around them
    const int a1 = h1 + lag < nz ? h1 + lag : nz;
    const int member = field / species;
    const int kind = field % species;
    const real bg = background[kind];
    const index_t level = (index_t)ny * nx;
    const index_t u_stride = u_full ? nx + 1 : 0;
    const index_t v_stride = v_full ? nx : 0;
    const index_t w_level = w_full ? level : nx;
    const int faces = nz > 1 ? nz - 1 : 1;
    BLOCK_PHASE { MINE(net) = 0.0; MINE(below) = ZERO; MINE(here) = ZERO; }
    for (int stage = a0; stage < a1 + lag; ++stage) {
        const int taken = stage;   // the level taken in now (while < a1)
        const int kz = stage - lag;  // the level finished now (while in [h0, h1))
        BLOCK_SYNC;  // the previous stage's tiles are no longer read
        if (taken < a1) {
            const index_t plane = plane_offset(field, taken, nz, ny, nx);
            const index_t corrections = plane_offset(member, taken, nz, ny, nx);
            const real* cells = src + plane;
            const real* u_plane = u + velocity_row(member, taken, nz, 0, u_full, ny, nx + 1);
            const real* v_plane = v + velocity_row(member, taken, nz, 0, v_full, ny + 1, nx);
            BLOCK_PHASE {
                // The domain's cells, and the ghosts the first sweep needs: beyond the x edges
                // (ORDER 0), beyond the y edges (ORDER 1 without Z: with Z the y sweep follows the
                // z sweep, whose values give them); bg where the boundary face lets air in.
                for (int e = THREAD; e < RAW_Y * RAW_X; e += TILE_THREADS) {
                    int r = e / RAW_X, c = e % RAW_X;
                    int j = j0 - HALO + r, i = i0 - HALO + c;
                    real value = ZERO;
                    if (ORDER == 0 && j >= 0 && j < ny) {
                        const real* u_row = u_plane + j * u_stride;
                        if (i < 0) value = u_row[0] > ZERO ? bg : cells[(index_t)j * nx];
                        else if (i >= nx) value = u_row[nx] < ZERO ? bg : cells[(index_t)j * nx + nx - 1];
                        else value = cells[(index_t)j * nx + i];
                    } else if (ORDER == 1 && i >= 0 && i < nx) {
                        if (j >= 0 && j < ny) value = cells[(index_t)j * nx + i];
                        else if (!Z && j < 0) value = v_plane[i] > ZERO ? bg : cells[i];
                        else if (!Z) value = v_plane[ny * v_stride + i] < ZERO ? bg : cells[(index_t)(ny - 1) * nx + i];
                    }
                    if (ORDER == 1 && Z) ring[taken % RING][r][c] = value;
                    else raw[r][c] = value;
                }
            }
            if (ORDER == 0) {  // x then y sweep of the level taken in
                BLOCK_SYNC;
                BLOCK_PHASE {
                    for (int e = THREAD; e < RAW_Y * MID_X; e += TILE_THREADS) {
                        int r = e / MID_X, c = e % MID_X + HALO - 1;
                        int j = j0 - HALO + r, i = i0 - HALO + c;
                        if (j < 0 || j >= ny || i < 0 || i >= nx) continue;
                        index_t at = (index_t)j * nx + i;
                        const real* u_row = u_plane + j * u_stride;
                        real correction = correct ? cells[at] * div_x[corrections + at] : ZERO;
                        real low, high;
                        first[r][c] = tile_x(raw[r], c, u_row[i], u_row[i + 1], rate_x, inverse_dx, step, correction,
                                             &low, &high);
                        if (j >= j0 && j < j0 + TILE_Y) {
                            if (i == 0) x_low[j - j0] = low;
                            if (i == nx - 1) x_high[j - j0] = high;
                        }
                    }
                }
                BLOCK_SYNC;
                BLOCK_PHASE {  // the y sweep's ghost rows, from the x-swept edge rows
                    for (int e = THREAD; e < RAW_Y * MID_X; e += TILE_THREADS) {
                        int r = e / MID_X, c = e % MID_X + HALO - 1;
                        int j = j0 - HALO + r, i = i0 - HALO + c;
                        if (i < 0 || i >= nx || (j >= 0 && j < ny)) continue;
                        first[r][c] = j < 0 ? (v_plane[i] > ZERO ? bg : first[HALO - j0][c])
                                            : (v_plane[ny * v_stride + i] < ZERO ? bg : first[ny - 1 - j0 + HALO][c]);
                    }
                }
                BLOCK_SYNC;
                BLOCK_PHASE {
                    for (int e = THREAD; e < MID_Y * MID_X; e += TILE_THREADS) {
                        int r = e / MID_X + HALO - 1, c = e % MID_X + HALO - 1;
                        int j = j0 - HALO + r, i = i0 - HALO + c;
                        if (j < 0 || j >= ny || i < 0 || i >= nx) continue;
                        index_t at = (index_t)j * nx + i;
                        real correction = correct ? cells[at] * div_y[corrections + at] : ZERO;
                        real low, high;
                        real value = y_update(first[r - 2][c], first[r - 1][c], first[r][c], first[r + 1][c],
                                              first[r + 2][c], v_plane[j * v_stride + i],
                                              v_plane[(j + 1) * v_stride + i], rate_y, inverse_dy, step, correction,
                                              &low, &high);
                        if (Z) ring[taken % RING][r][c] = value;
                        else second[r - HALO + 1][c - HALO + 1] = value;
                        if (i >= i0 && i < i0 + TILE_X) {
                            if (j == 0) y_low[i - i0] = low;
                            if (j == ny - 1) y_high[i - i0] = high;
                        }
                    }
                }
                if (Z) {
                    BLOCK_SYNC;
                    BLOCK_PHASE {  // the horizontal outflow of the level taken in
                        int ty = THREAD / TILE_X, tx = THREAD % TILE_X;
                        int j = j0 + ty, i = i0 + tx;
                        if (j < ny && i < nx && taken >= k0 && taken < k1) {
                            double net_x = (i == nx - 1 ? (double)x_high[ty] : 0.0) - (i == 0 ? (double)x_low[ty] : 0.0);
                            double net_y = (j == ny - 1 ? (double)y_high[tx] : 0.0) - (j == 0 ? (double)y_low[tx] : 0.0);
                            MINE(net) += dz[taken] * (net_x * dy + net_y * dx);
                        }
                    }
                }
            }
        }
        if (kz < h0 || kz >= h1) continue;
        const index_t plane = plane_offset(field, kz, nz, ny, nx);
        const index_t corrections = plane_offset(member, kz, nz, ny, nx);
        const real* cells = src + plane;
        const real* u_plane = u + velocity_row(member, kz, nz, 0, u_full, ny, nx + 1);
        const real* v_plane = v + velocity_row(member, kz, nz, 0, v_full, ny + 1, nx);
        if (Z) {
            const real* w_field = w + velocity_row(member, 0, nz + 1, 0, w_full, ny, nx);
            const real rate_below = rates_z[kz > 0 ? kz - 1 : 0];
            const real rate_here = rates_z[kz];
            const real rate_above = rates_z[kz + 1 < nz ? kz + 1 : nz - 1];
            const real inverse_dz = ONE / dz_real[kz];
            // The ring's region: ORDER 0 keeps what the diffusion reads (MID), 1 what the
            // horizontal sweeps read (RAW).
            const int rows = ORDER == 0 ? MID_Y : RAW_Y, cols = ORDER == 0 ? MID_X : RAW_X;
            const int offset = ORDER == 0 ? HALO - 1 : 0;
            BLOCK_SYNC;
            BLOCK_PHASE {
                // The z sweep of level kz; levels beyond the bottom and the top are ghosts: bg
                // where the boundary face lets air in, else the edge level's value.
                for (int e = THREAD; e < rows * cols; e += TILE_THREADS) {
                    int r = e / cols + offset, c = e % cols + offset;
                    int j = j0 - HALO + r, i = i0 - HALO + c;
                    if (j < 0 || j >= ny || i < 0 || i >= nx) continue;
                    const real* w_column = w_field + (w_full ? (index_t)j * nx : 0) + i;
                    real ghost_low = w_column[0] > ZERO ? bg : ring[0][r][c];
                    real ghost_high = w_column[nz * w_level] < ZERO ? bg : ring[(nz - 1) % RING][r][c];
                    real window[5];
#pragma unroll
                    for (int d = 0; d < 5; ++d) {
                        int at_level = kz + d - 2;
                        window[d] = at_level < 0 ? ghost_low : (at_level >= nz ? ghost_high : ring[at_level % RING][r][c]);
                    }
                    index_t at = (index_t)j * nx + i;
                    real correction = correct ? cells[at] * div_z[corrections + at] : ZERO;
                    real low, high;
                    real value = z_update(window[0], window[1], window[2], window[3], window[4], w_column[kz * w_level],
                                          w_column[(kz + 1) * w_level], rate_below, rate_here, rate_above, inverse_dz,
                                          step, correction, &low, &high);
                    if (ORDER == 0) second[r - HALO + 1][c - HALO + 1] = value;
                    else raw[r][c] = value;
                    if (j >= j0 && j < j0 + TILE_Y && i >= i0 && i < i0 + TILE_X) {
                        z_low[j - j0][i - i0] = low;
                        z_high[j - j0][i - i0] = high;
                    }
                }
            }
        }
        if (ORDER == 1) {  // y then x sweep of the level (z-swept first with Z)
            if (Z) {
                BLOCK_SYNC;
                BLOCK_PHASE {  // the y sweep's ghost rows, from the z-swept edge rows
                    for (int e = THREAD; e < RAW_Y * RAW_X; e += TILE_THREADS) {
                        int r = e / RAW_X, c = e % RAW_X;
                        int j = j0 - HALO + r, i = i0 - HALO + c;
                        if (i < 0 || i >= nx || (j >= 0 && j < ny)) continue;
                        raw[r][c] = j < 0 ? (v_plane[i] > ZERO ? bg : raw[HALO - j0][c])
                                          : (v_plane[ny * v_stride + i] < ZERO ? bg : raw[ny - 1 - j0 + HALO][c]);
                    }
                }
            }
            BLOCK_SYNC;
            BLOCK_PHASE {
                for (int e = THREAD; e < MID_Y * RAW_X; e += TILE_THREADS) {
                    int r = e / RAW_X + HALO - 1, c = e % RAW_X;
                    int j = j0 - HALO + r, i = i0 - HALO + c;
                    if (j < 0 || j >= ny || i < 0 || i >= nx) continue;
                    index_t at = (index_t)j * nx + i;
                    real correction = correct ? cells[at] * div_y[corrections + at] : ZERO;
                    real low, high;
                    first[r][c] = y_update(raw[r - 2][c], raw[r - 1][c], raw[r][c], raw[r + 1][c], raw[r + 2][c],
                                           v_plane[j * v_stride + i], v_plane[(j + 1) * v_stride + i], rate_y,
                                           inverse_dy, step, correction, &low, &high);
                    if (i >= i0 && i < i0 + TILE_X) {
                        if (j == 0) y_low[i - i0] = low;
                        if (j == ny - 1) y_high[i - i0] = high;
                    }
                }
            }
            BLOCK_SYNC;
            BLOCK_PHASE {  // the x sweep's ghost columns, from the y-swept edge columns
                for (int e = THREAD; e < MID_Y * RAW_X; e += TILE_THREADS) {
                    int r = e / RAW_X + HALO - 1, c = e % RAW_X;
                    int j = j0 - HALO + r, i = i0 - HALO + c;
                    if (j < 0 || j >= ny || (i >= 0 && i < nx)) continue;
                    const real* u_row = u_plane + j * u_stride;
                    first[r][c] = i < 0 ? (u_row[0] > ZERO ? bg : first[r][HALO - i0])
                                        : (u_row[nx] < ZERO ? bg : first[r][nx - 1 - i0 + HALO]);
                }
            }
            BLOCK_SYNC;
            BLOCK_PHASE {
                for (int e = THREAD; e < MID_Y * MID_X; e += TILE_THREADS) {
                    int r = e / MID_X + HALO - 1, c = e % MID_X + HALO - 1;
                    int j = j0 - HALO + r, i = i0 - HALO + c;
                    if (j < 0 || j >= ny || i < 0 || i >= nx) continue;
                    index_t at = (index_t)j * nx + i;
                    const real* u_row = u_plane + j * u_stride;
                    real correction = correct ? cells[at] * div_x[corrections + at] : ZERO;
                    real low, high;
                    second[r - HALO + 1][c - HALO + 1] = tile_x(first[r], c, u_row[i], u_row[i + 1], rate_x,
                                                                inverse_dx, step, correction, &low, &high);
                    if (j >= j0 && j < j0 + TILE_Y) {
                        if (i == 0) x_low[j - j0] = low;
                        if (i == nx - 1) x_high[j - j0] = high;
                    }
                }
            }
        }
        BLOCK_SYNC;
        BLOCK_PHASE {
            // Each thread's own cell: outflow, horizontal diffusion, and the vertical step of the
            // level below, which now has both neighbours.
            int ty = THREAD / TILE_X, tx = THREAD % TILE_X;
            int j = j0 + ty, i = i0 + tx;
            if (j < ny && i < nx) {
                if (kz >= k0 && kz < k1) {
                    if (Z) {
                        double net_z = (kz == nz - 1 ? (double)z_high[ty][tx] : 0.0)
                                       - (kz == 0 ? (double)z_low[ty][tx] : 0.0);
                        MINE(net) += dx * dy * net_z;
                    }
                    if (ORDER == 1 || !Z) {  // (ORDER 0 with Z counted it when the level was taken in)
                        double net_x = (i == nx - 1 ? (double)x_high[ty] : 0.0) - (i == 0 ? (double)x_low[ty] : 0.0);
                        double net_y = (j == ny - 1 ? (double)y_high[tx] : 0.0) - (j == 0 ? (double)y_low[tx] : 0.0);
                        MINE(net) += dz[kz] * (net_x * dy + net_y * dx);
                    }
                }
                const real* centre = &second[ty + 1][tx + 1];
                real h = use_horizontal
                             ? horizontal(centre, MID_X, j, i, ny, nx, kh[member * nz + kz], gain_x, gain_y, use_masks,
                                          open_x + (use_masks ? kz * (index_t)ny * (nx - 1) : 0),
                                          open_y + (use_masks ? kz * (index_t)(ny - 1) * nx : 0))
                             : centre[0];
                index_t cell = (index_t)j * nx + i;
                if (!vertical) {
                    if (flush && rabs(h) < (real)(REAL_TINY)) h = ZERO;
                    dst[plane + cell] = h;
                } else if (kz == h0) {  // level 0's own value stands in for the one below it
                    MINE(here) = h;
                    MINE(below) = h;
                } else {
                    if (kz - 1 >= k0) {
                        dst[plane - level + cell] = vertical_cell(MINE(here), h, MINE(below), kz - 1, nz, member, kind,
                                                                  faces, conductance, conductance_full, deposition,
                                                                  deposition_full, depositing, dz_real, step, j, i,
                                                                  ny, nx, flush);
                    }
                    MINE(below) = MINE(here);
                    MINE(here) = h;
                }
            }
        }
    }
    BLOCK_PHASE {
        int ty = THREAD / TILE_X, tx = THREAD % TILE_X;
        int j = j0 + ty, i = i0 + tx;
        if (j < ny && i < nx) {
            index_t cell = (index_t)j * nx + i;
            if (vertical && k1 == nz) {
                dst[plane_offset(field, nz - 1, nz, ny, nx) + cell] =
                    vertical_cell(MINE(here), MINE(here), MINE(below), nz - 1, nz, member, kind, faces, conductance,
                                  conductance_full, deposition, deposition_full, depositing, dz_real, step, j, i, ny,
                                  nx, flush);
            }
            outflow[((index_t)blockIdx.z * ny + j) * nx + i] = MINE(net);
        }
    }
}

// Blocks per multiprocessor the register budget must allow (ptxas caps registers per thread so).
// Without vertical wind: 3 x 256 threads in float32 (at most 85 registers), 2 in float64. With it:
// 3 in float32 (left to itself ptxas took 214 registers, one block per multiprocessor); in
// float64 a cap spills, so 1.
#ifndef TILED_MIN_BLOCKS
#define TILED_MIN_BLOCKS (sizeof(real) == 4 ? 3 : 2)
#endif
#ifndef TILED_Z_MIN_BLOCKS
#define TILED_Z_MIN_BLOCKS (sizeof(real) == 4 ? 3 : 1)
#endif

// The kernels: one per order (with the order a constant, ptxas allocates registers for that path
// alone; one kernel testing `order` inside took 214 registers), without and with the z sweep. All
// four take the same parameters (w, w_full, div_z and rates_z are not read without the z sweep).
#define TILED_PARAMETERS                                                                                   \
    const real *__restrict__ src, real *__restrict__ dst, const real *__restrict__ u, int u_full,         \
        const real *__restrict__ v, int v_full, const real *__restrict__ w, int w_full,                   \
        const real *__restrict__ div_x, const real *__restrict__ div_y, const real *__restrict__ div_z,   \
        int correct, const real *__restrict__ background, int species, int nz, int ny, int nx, real step, \
        real rate_x, real rate_y, const real *__restrict__ rates_z, real inverse_dx, real inverse_dy,      \
        double dx, double dy, const double *__restrict__ dz, int use_horizontal,                          \
        const real *__restrict__ kh, real gain_x, real gain_y, int use_masks,                             \
        const real *__restrict__ open_x, const real *__restrict__ open_y, int vertical,                   \
        const real *__restrict__ conductance, int conductance_full, const real *__restrict__ deposition,  \
        int deposition_full, const unsigned char *__restrict__ depositing, const real *__restrict__ dz_real, \
        int flush, int segment_levels, double *__restrict__ outflow
#define TILED_ARGUMENTS                                                                                    \
    src, dst, u, u_full, v, v_full, w, w_full, div_x, div_y, div_z, correct, background, species, nz, ny, \
        nx, step, rate_x, rate_y, rates_z, inverse_dx, inverse_dy, dx, dy, dz, use_horizontal, kh,        \
        gain_x, gain_y, use_masks, open_x, open_y, vertical, conductance, conductance_full, deposition,    \
        deposition_full, depositing, dz_real, flush, segment_levels, outflow

extern "C" __global__ void __launch_bounds__(TILE_THREADS, TILED_MIN_BLOCKS) tiled_step_even(TILED_PARAMETERS)
{
    __shared__ TileMemory<false> memory;
    tiled<0, false>(memory, TILED_ARGUMENTS);
}

extern "C" __global__ void __launch_bounds__(TILE_THREADS, TILED_MIN_BLOCKS) tiled_step_odd(TILED_PARAMETERS)
{
    __shared__ TileMemory<false> memory;
    tiled<1, false>(memory, TILED_ARGUMENTS);
}

extern "C" __global__ void __launch_bounds__(TILE_THREADS, TILED_Z_MIN_BLOCKS) tiled_step_z_even(TILED_PARAMETERS)
{
    __shared__ TileMemory<true> memory;
    tiled<0, true>(memory, TILED_ARGUMENTS);
}

extern "C" __global__ void __launch_bounds__(TILE_THREADS, TILED_Z_MIN_BLOCKS) tiled_step_z_odd(TILED_PARAMETERS)
{
    __shared__ TileMemory<true> memory;
    tiled<1, true>(memory, TILED_ARGUMENTS);
}
