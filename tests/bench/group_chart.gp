# group_chart.gp — docs/bench-group.png from group.sh's medians.
#   gnuplot -e "datafile='chart.dat'; outfile='bench-group.png'" group_chart.gp
# The data has one block per server (its name in the first line): N, burst deliveries/s,
# paced p99 in ms; NaN where the server failed (ncat past 1,020 clients).
set terminal pngcairo size 1200,520 font "sans,11"
set output outfile
set datafile missing NaN
set logscale xy
set grid
set key below horizontal
# Colours by server, in group_table.py's order: sockchat's four I/O models in cool
# colours, ncat red (the anchor), the tutorial grey.
set linetype 1 lc rgb "#1f4e9c" lw 2 pt 7
set linetype 2 lc rgb "#2a9d8f" lw 2 pt 5
set linetype 3 lc rgb "#6aa5d8" lw 2 pt 9
set linetype 4 lc rgb "#7b4fa0" lw 2 pt 11
set linetype 5 lc rgb "#d62728" lw 3 pt 13
set linetype 6 lc rgb "#888888" lw 2 pt 3
set xlabel "clients in the room (N)"
set xtics ("10" 10, "100" 100, "1,000" 1000, "10,000" 10000)
set xrange [7:14000]
set multiplot layout 1,2 title "Group chat: sockchat serve-group vs ncat --chat vs the tutorial's server (medians)"
set title "burst throughput (higher is better)"
set ylabel "deliveries per second"
set format y "10^{%L}"
set yrange [1e4:2e7]  # a point below is in the table (a failed or stalled run)
plot for [i=0:*] datafile index i using 1:2 with linespoints lt i+1 title columnheader(1)
set title "paced latency, p99 (lower is better)"
set ylabel "p99 delivery latency (ms)"
set format y "%g"
set yrange [*:*]
plot for [i=0:*] datafile index i using 1:3 with linespoints lt i+1 title columnheader(1)
unset multiplot
