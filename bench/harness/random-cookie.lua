-- wrk script: every request carries one of the seeded session cookies, picked
-- at random. The cookie file (one "name=value" a line) is the argument after
-- "--" on wrk's command line.
local cookies = {}

function init(args)
    for line in io.lines(args[1]) do
        cookies[#cookies + 1] = line
    end
    if #cookies == 0 then
        error("no cookies in " .. args[1])
    end
end

function request()
    return wrk.format(nil, nil, { ["Cookie"] = cookies[math.random(#cookies)] })
end
