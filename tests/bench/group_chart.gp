# group_chart.gp — docs/bench-group.png from group.sh's medians.
#   gnuplot -e "datafile='chart.dat'; outfile='bench-group.png'" group_chart.gp
# The data has one block per server (its name in the first line): N, burst deliveries/s,
# paced p99 in ms; NaN where the server failed (ncat past 1,020 clients).
set terminal pngcairo size 1200,480 font "sans,11"
set output outfile
set datafile missing NaN
set logscale xy
set grid
set key top right
set xlabel "clients in the room (N)"
set xtics ("10" 10, "100" 100, "1,000" 1000, "10,000" 10000)
set xrange [7:14000]
set multiplot layout 1,2 title "Group chat: sockchat serve-group vs ncat --chat vs the tutorial's server (medians)"
set title "burst throughput (higher is better)"
set ylabel "deliveries per second"
set format y "10^{%L}"
plot for [i=0:*] datafile index i using 1:2 with linespoints lw 2 pt 7 title columnheader(1)
set title "paced latency, p99 (lower is better)"
set ylabel "p99 delivery latency (ms)"
set format y "%g"
plot for [i=0:*] datafile index i using 1:3 with linespoints lw 2 pt 7 title columnheader(1)
unset multiplot
